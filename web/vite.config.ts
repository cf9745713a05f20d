/// <reference types="vitest/config" />
// vite.config.ts - build the DaemonPulse SPA into web/dist.
//
// The C server embeds web/dist into its binary (hashed files under /assets/
// get a long cache; index.html is the SPA fallback). `npm run dev` proxies
// /api to a running control plane (DP_API, default http://127.0.0.1:3000).
import { defineConfig } from 'vite';
import tailwindcss from '@tailwindcss/vite';

declare const process: { env: Record<string, string | undefined> };
const api = process.env.DP_API || 'http://127.0.0.1:3000';

export default defineConfig({
  plugins: [tailwindcss()],
  oxc: {
    jsx: { runtime: 'automatic', importSource: 'preact' },
  },
  build: {
    outDir: 'dist',
    assetsDir: 'assets',
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: false,
    // everything is small; one JS and one CSS file keep the embedded table short
    modulePreload: { polyfill: false },
  },
  server: {
    proxy: { '/api': { target: api, changeOrigin: false } },
  },
  test: {
    include: ['src/**/*.test.ts'],
    environment: 'node',
    // the contrast test reads the palette with ?raw; let that file through
    css: { include: [/index\.css/] },
  },
});
