import { api } from "./api";
import "./cron";
import { provisionDlq, provisionQueue } from "./queues";
import { table } from "./storage";

/** What `sst deploy` prints: where the API is and what backs it. */
export const outputs = {
  api: api.url,
  table: table.name,
  provisionQueue: provisionQueue.url,
  provisionDlq: provisionDlq.url,
};
