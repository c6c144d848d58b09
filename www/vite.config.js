// Vite builds the demo page (www/site) into www/dist: a static site, servable by any server.
import { defineConfig } from "vite";

export default defineConfig({
  root: "site",
  base: "./", // relative asset URLs: the site works from any folder
  build: { outDir: "../dist", emptyOutDir: true, target: "es2022" },
  worker: { format: "es" },
  server: { fs: { allow: [".."] } }, // the page imports ../pkg and ../worker/model.bin
});
