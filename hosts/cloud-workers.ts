import type { SQSClient } from "@aws-sdk/client-sqs";
import { LOCAL_REGION } from "../shared/adapters/local/engines.ts";
import { startQueuePoller } from "../shared/adapters/local/queue-poller.ts";
import type { QueueUrls } from "../shared/adapters/sqs/queues.ts";
import { provisionHandler, taskEventsHandler } from "../shared/app/queue-handlers.ts";
import type { CloudConfig } from "../shared/config.ts";
import type { Logger } from "../shared/ports/logger.ts";
import { reconcileCloud, requeueQueued } from "../shared/usecases/cloud/cloud-reconcile.ts";
import type { CloudJobDeps } from "../shared/usecases/deps.ts";

/**
 * The local server's cloud workers (loaded only when cloud capacity is configured): pollers that drain the
 * provision and task events queues through the very handlers Lambda runs, and the sweep step that does
 * what the sweeper and the reconciler Lambdas do in AWS.
 */
export function startCloudWorkers(input: {
  deps: CloudJobDeps;
  sqs: SQSClient;
  urls: QueueUrls;
  config: CloudConfig;
  logger: Logger;
}) {
  const { deps, sqs, urls, logger } = input;
  const pollers = [
    startQueuePoller({
      sqs,
      queueUrl: urls.provision,
      handler: provisionHandler(deps),
      logger,
      region: LOCAL_REGION,
    }),
    startQueuePoller({
      sqs,
      queueUrl: urls.events,
      handler: taskEventsHandler(deps, input.config.ecs?.container ?? "job"),
      logger,
      region: LOCAL_REGION,
    }),
  ];
  return {
    async sweep() {
      await requeueQueued(deps);
      await reconcileCloud(deps);
    },
    stop: () => Promise.all(pollers.map((p) => p.stop())),
  };
}
