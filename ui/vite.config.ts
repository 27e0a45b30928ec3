import { defineConfig } from 'vitest/config';
import { svelte } from '@sveltejs/vite-plugin-svelte';
// Adds the 'browser' resolve condition under Vitest, so components render with Svelte's client build.
import { svelteTesting } from '@testing-library/svelte/vite';

export default defineConfig({
  plugins: [svelte(), svelteTesting()],
  clearScreen: false,
  build: { outDir: 'dist', emptyOutDir: true },
  test: {
    environment: 'jsdom',
    setupFiles: ['./src/test-setup.ts'],
    include: ['src/**/*.test.ts'],
    // The theme's contrast test reads app.css (Vitest leaves CSS empty unless asked).
    css: { include: [/app\.css/] },
  },
});
