import { defineConfig } from 'vite';

// The console is served by the vigil binary (web/embed.go); `npm run dev` proxies the API
// to a local `vigil serve` on :8080.
export default defineConfig({
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: { outDir: 'dist', emptyOutDir: true, target: 'es2022', assetsDir: 'assets', sourcemap: false },
  server: { proxy: { '/api': 'http://127.0.0.1:8080' } },
});
