/* global process */
// Preloaded into the real `metal` CLI by the leak test (`node --import`): writes every route of
// every fastify instance the process creates to $METAL_ROUTE_LOG, one JSON line each, so the test
// scans what the server really serves rather than only the routes it knows about. Fastify
// announces each new instance on this diagnostics channel before any route is added.
import { subscribe } from "node:diagnostics_channel";
import { appendFileSync } from "node:fs";

const log = process.env.METAL_ROUTE_LOG;
if (log) {
  subscribe("fastify.initialization", ({ fastify }) => {
    fastify.addHook("onRoute", (route) => {
      const methods = [route.method].flat();
      appendFileSync(log, `${JSON.stringify({ methods, url: route.url })}\n`);
    });
  });
}
