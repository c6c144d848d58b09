// Test harness for the demo page, shared by www/test/page.test.mjs and the page benchmark
// (site/e2e/bench.mjs): a static server for www/dist on 127.0.0.1 and Debian's Chromium driven
// by playwright-core. Both are started here and stopped by `close()`.
import { createServer } from "node:http";
import { readFile, mkdir, rm } from "node:fs/promises";
import { existsSync } from "node:fs";
import { extname, join, normalize, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

export const www = fileURLToPath(new URL("../../", import.meta.url));
export const root = join(www, "..");
export const dist = join(www, "dist");
/** Scratch space (gitignored): browser profile, temp files, downloads. */
export const scratch = join(root, "build", "page-test");

const TYPES = {
  ".html": "text/html; charset=utf-8", ".js": "text/javascript", ".mjs": "text/javascript",
  ".css": "text/css", ".wasm": "application/wasm", ".bin": "application/octet-stream",
  ".json": "application/json", ".svg": "image/svg+xml", ".png": "image/png",
};

/** Serves `dir` on 127.0.0.1 (a free port); resolves to {url, close}. */
export async function serve(dir = dist) {
  if (!existsSync(join(dir, "index.html"))) {
    throw new Error(`${dir}/index.html is missing: build the site first (cd www && npm run build)`);
  }
  const server = createServer(async (req, res) => {
    try {
      const path = normalize(decodeURIComponent(new URL(req.url, "http://x").pathname));
      const file = join(dir, path.endsWith("/") ? `${path}index.html` : path);
      if (!file.startsWith(dir + sep)) throw Object.assign(new Error("outside"), { code: "ENOENT" });
      const body = await readFile(file);
      res.writeHead(200, { "content-type": TYPES[extname(file)] ?? "application/octet-stream", "cache-control": "no-store" });
      res.end(body);
    } catch (e) {
      res.writeHead(e.code === "ENOENT" || e.code === "EISDIR" ? 404 : 500, { "content-type": "text/plain" });
      res.end(e.code === "ENOENT" || e.code === "EISDIR" ? "not found" : "error");
    }
  });
  await new Promise((ok, fail) => server.once("error", fail).listen(0, "127.0.0.1", ok));
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}/`,
    close: () => new Promise((ok) => { server.closeAllConnections?.(); server.close(() => ok()); }),
  };
}

/** Debian's Chromium, headless, with a fresh profile under build/; resolves to a browser context. */
export async function browser({ profile = "chromium-profile" } = {}) {
  const dir = join(scratch, profile);
  const tmp = join(scratch, "tmp");
  await rm(dir, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true });
  return chromium.launchPersistentContext(dir, {
    executablePath: "/usr/bin/chromium",
    headless: true,
    args: [
      "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync",
    ],
    // Chromium litters TMPDIR and ~/.config: keep both inside build/.
    env: { ...process.env, TMPDIR: tmp, XDG_CONFIG_HOME: tmp },
    acceptDownloads: true,
    viewport: { width: 1280, height: 900 },
  });
}
