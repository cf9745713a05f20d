// Link.tsx - an <a> that navigates inside the app without a page load.
import type { ComponentChildren } from 'preact';
import { navigate } from '../state/router';

interface Props {
  href: string;
  children: ComponentChildren;
  class?: string;
  'aria-current'?: 'page' | undefined;
  'aria-label'?: string;
  onNavigate?: () => void;
}

export function Link({ href, children, onNavigate, ...rest }: Props) {
  const onClick = (e: MouseEvent) => {
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    navigate(href);
    onNavigate?.();
  };
  return <a href={href} onClick={onClick} {...rest}>{children}</a>;
}
