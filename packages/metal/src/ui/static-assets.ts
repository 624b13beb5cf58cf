/**
 * The dashboard page as plain files shipped in the package (assets/dashboard/): HTML, one
 * vanilla ES module and a style sheet. No bundler and nothing fetched from the internet, so the
 * page works on an offline admin laptop (docs/decisions/0100-dashboard-without-a-framework.md).
 */
import { readFile } from "node:fs/promises";
import type { FastifyInstance, FastifyReply } from "fastify";

/** From src/ui/ and dist/ui/ alike, the assets sit two levels up. */
export const ASSETS_DIR = new URL("../../assets/dashboard/", import.meta.url);

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  "index.html": "text/html; charset=utf-8",
  "dashboard.js": "text/javascript; charset=utf-8",
  "dashboard.css": "text/css; charset=utf-8",
};

export async function registerStaticAssets(app: FastifyInstance): Promise<void> {
  const files = new Map<string, Buffer>();
  for (const name of Object.keys(CONTENT_TYPES))
    files.set(name, await readFile(new URL(name, ASSETS_DIR)));
  const serve = (name: string) => async (_request: unknown, reply: FastifyReply) =>
    reply
      .type(CONTENT_TYPES[name]!)
      .header("cache-control", "no-cache")
      .header("x-content-type-options", "nosniff")
      .send(files.get(name));
  // Under a prefix, only "/prefix/" serves the page: the page's relative URLs (events,
  // dashboard.js) must resolve inside the prefix, so "/prefix" redirects there.
  app.get("/", { prefixTrailingSlash: "slash" }, serve("index.html"));
  if (app.prefix)
    app.get("/", { prefixTrailingSlash: "no-slash" }, async (request, reply) =>
      reply.redirect(`${request.url}/`),
    );
  app.get("/dashboard.js", serve("dashboard.js"));
  app.get("/dashboard.css", serve("dashboard.css"));
}
