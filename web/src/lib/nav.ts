// nav.ts - the sidebar entries and what each module is for (pure data).
import type { ModuleName } from './routes';

export interface NavItem {
  key: ModuleName | 'settings';
  label: string;
  path: string;
}

export const NAV: readonly NavItem[] = [
  { key: 'fleet', label: 'The Fleet', path: '/fleet' },
  { key: 'forge', label: 'The Forge', path: '/forge' },
  { key: 'pulse', label: 'The Pulse', path: '/pulse' },
  { key: 'toolchain', label: 'The Toolchain', path: '/toolchain' },
  { key: 'console', label: 'The Console', path: '/console' },
  { key: 'settings', label: 'Settings', path: '/settings' },
];

export interface ModuleInfo {
  title: string;
  tagline: string;
  plans: string[];
}

export const MODULE_INFO: Record<ModuleName, ModuleInfo> = {
  fleet: {
    title: 'The Fleet',
    tagline: 'Every LM Studio host at a glance.',
    plans: [
      'Health of each daemon target: running, stopped, stalled or unauthorized, with latency',
      'GPUs with name, VRAM total / used / free, utilisation and temperature where the host is measurable',
      'System RAM and which model instances are loaded where',
      'A Kill Switch that unloads every model on a target, with confirmation and feedback',
    ],
  },
  forge: {
    title: 'The Forge',
    tagline: 'Models on disk and in memory.',
    plans: [
      'Model list with type, format, quantization, size, parameters, context and capabilities',
      'Load with a configuration: context length, GPU offload, flash attention, parallel slots, TTL, identifier',
      'VRAM pre-flight estimate before a load; eject one instance or unload all',
      'Downloads with progress and the real JIT status',
    ],
  },
  pulse: {
    title: 'The Pulse',
    tagline: 'A streaming playground for loaded models.',
    plans: [
      'Prompt, system prompt and sampling settings',
      'Reasoning shown apart from the answer',
      'Time to first token, tokens per second and generation time, measured and as reported by LM Studio',
      'A history of recent requests',
    ],
  },
  toolchain: {
    title: 'The Toolchain',
    tagline: 'MCP servers and the tools a model may call.',
    plans: [
      'MCP servers from the target’s mcp.json and ephemeral servers',
      'Tool discovery over the real MCP protocol',
      'Allow or deny each tool; dispatch a chat with integrations',
      'An audit of every tool call',
    ],
  },
  console: {
    title: 'The Console',
    tagline: 'What the daemon is logging right now.',
    plans: [
      'Live daemon logs from the server, model and runtime sources',
      'Level filter, search, pause and a Live-mode preset with high-level events only',
      'DaemonPulse’s own audit log of operator actions next to the daemon logs',
    ],
  },
};
