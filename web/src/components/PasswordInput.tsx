// PasswordInput.tsx - a password field with a show/hide toggle.
import { useState } from 'preact/hooks';
import { input } from './ui';

export function PasswordInput({ id, value, onInput, autocomplete, required, minLength, describedBy, invalid,
  inputRef }: {
  id: string;
  value: string;
  onInput: (v: string) => void;
  autocomplete: string;
  required?: boolean;
  minLength?: number;
  describedBy?: string;
  invalid?: boolean;
  inputRef?: preact.Ref<HTMLInputElement>;
}) {
  const [shown, setShown] = useState(false);
  return (
    <div class="relative">
      <input ref={inputRef} id={id} type={(shown ? 'text' : 'password') as 'password'} class={`${input} pr-20`} value={value}
        onInput={(e) => onInput((e.currentTarget as HTMLInputElement).value)} autocomplete={autocomplete}
        required={required} minLength={minLength} aria-describedby={describedBy}
        aria-invalid={invalid ? 'true' : undefined} spellcheck={false} autocapitalize="off" />
      <button type="button" onClick={() => setShown(!shown)} aria-pressed={shown} aria-controls={id}
        class="absolute inset-y-1 right-1 rounded px-2 text-xs font-medium text-indigo-300 hover:bg-slate-800">
        {shown ? 'Hide' : 'Show'}
        <span class="sr-only"> password</span>
      </button>
    </div>
  );
}
