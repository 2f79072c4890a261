// Runs dynalite in a worker thread of the server process, so the table engine and the API use two
// cores. Plain JavaScript: workers do not inherit the TypeScript loader. See engines.ts.
import { parentPort, workerData } from "node:worker_threads";
import dynalite from "dynalite";

const server = dynalite({
  ...(workerData.path ? { path: workerData.path } : {}),
  createTableMs: 0,
  deleteTableMs: 0,
  updateTableMs: 0,
});
server.on("error", (err) => parentPort.postMessage({ error: err.message }));
server.listen(0, "127.0.0.1", () => parentPort.postMessage({ port: server.address().port }));
parentPort.on("message", (message) => {
  if (message !== "stop") return;
  server.closeAllConnections();
  server.close((err) => parentPort.postMessage({ stopped: true, error: err?.message }));
});
