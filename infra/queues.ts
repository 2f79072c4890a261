import { QUEUE_DEFINITIONS } from "../shared/contracts/queues";

const provisionDef = QUEUE_DEFINITIONS.provision;

/** Messages that failed `maxReceiveCount` times: kept 14 days for inspection. */
export const provisionDlq = new sst.aws.Queue("ProvisionDlq", {
  transform: { queue: { messageRetentionSeconds: 14 * 24 * 3600 } },
});

/** Cloud hand-off: `{reservationId, attempt}` hints for the provision worker. */
export const provisionQueue = new sst.aws.Queue("ProvisionQueue", {
  visibilityTimeout: `${provisionDef.visibilityTimeoutSeconds} seconds`,
  dlq: { queue: provisionDlq.arn, retry: provisionDef.maxReceiveCount },
});
