// Checkpoints a SQLite database's write-ahead log from a worker thread, so the disk I/O of a checkpoint never
// stalls the server's thread (see sqlite-store.ts). Plain JavaScript: workers do not inherit a TypeScript loader.
import { parentPort, workerData } from "node:worker_threads";
import Database from "better-sqlite3";

const db = new Database(workerData.path);
db.pragma("busy_timeout = 5000");
const checkpoint = (mode) => {
  try {
    db.pragma(`wal_checkpoint(${mode})`);
  } catch {
    // busy or locked: the next tick tries again
  }
};
const timer = setInterval(() => checkpoint("PASSIVE"), 1000);
parentPort.on("message", (message) => {
  if (message !== "stop") return;
  clearInterval(timer);
  checkpoint("PASSIVE");
  db.close();
  process.exit(0);
});
