/* global process */
// Preloaded into the real `metal` CLI by the leak test (`node --import`): writes every route of
// every fastify instance the process creates, and the address each one listens on, to
// $METAL_ROUTE_LOG (one JSON line each), so the test scans what the process really serves
// rather than only the routes it knows about. Fastify announces each new instance on this
// diagnostics channel before any route is added (fastify docs, "Diagnostics Channel Hooks").
import { subscribe } from "node:diagnostics_channel";
import { appendFileSync } from "node:fs";

const log = process.env.METAL_ROUTE_LOG;
const record = (entry) => appendFileSync(log, `${JSON.stringify(entry)}\n`);
let instances = 0;
if (log) {
  subscribe("fastify.initialization", ({ fastify }) => {
    const instance = instances++;
    fastify.addHook("onRoute", (route) => {
      record({ instance, methods: [route.method].flat(), url: route.url });
    });
    fastify.addHook("onListen", async function () {
      const { address, port } = this.server.address();
      record({ instance, address, port });
    });
  });
}
