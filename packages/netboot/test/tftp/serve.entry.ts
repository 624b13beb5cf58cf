/**
 * A TFTP server as its own process, for interop tests and the benchmark, which run it inside a
 * network namespace (`ip netns exec NS tsx serve.entry.ts ROOT ADDRESS PORT [MAX_WINDOW]`).
 * Prints `listening ADDRESS:PORT`, then one JSON line per event; SIGTERM closes it cleanly.
 */
import { TftpServer } from "../../src/tftp/server.js";

const [root, address = "0.0.0.0", port = "69", maxWindowSize = "64"] = process.argv.slice(2);
if (!root) {
  console.error("usage: serve.entry.ts ROOT [ADDRESS] [PORT] [MAX_WINDOW_SIZE]");
  process.exit(2);
}
const server = new TftpServer({
  root,
  address,
  port: Number(port),
  maxWindowSize: Number(maxWindowSize),
});
server.events.on((event) => console.log(JSON.stringify(event)));
const bound = await server.start();
console.log(`listening ${bound.address}:${bound.port}`);
process.on("SIGTERM", () => {
  void server.close().then(() => process.exit(0));
});
