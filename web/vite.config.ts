import { defineConfig } from 'vite'
import vue from '@vitejs/plugin-vue'

// The Gengxin server (bash scripts/demo) answers the API, the OGC API – Features (/ogc),
// the vector tiles and the glyphs; the dev server forwards those paths to it.
const server = process.env.GENGXIN_URL ?? 'http://127.0.0.1:8080'

export default defineConfig({
  plugins: [vue()],
  // Relative asset URLs, so the built page works wherever the server mounts it.
  base: './',
  build: {
    target: 'es2020',
    // MapLibre alone is ~800 kB minified; it is one chunk on purpose (no CDN, no lazy loading
    // across the network boundary).
    chunkSizeWarningLimit: 1500,
    rollupOptions: {
      output: {
        manualChunks: {
          maplibre: ['maplibre-gl'],
          echarts: ['echarts/core', 'echarts/charts', 'echarts/components', 'echarts/renderers'],
        },
      },
    },
  },
  server: {
    proxy: {
      '/api': { target: server, changeOrigin: true },
      '/tiles': { target: server, changeOrigin: false },
      '/fonts': { target: server, changeOrigin: true },
      // OGC API – Features: paging links are absolute, made from the Host header; keep it.
      '/ogc': { target: server, changeOrigin: false },
    },
  },
})
