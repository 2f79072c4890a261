import { lambdaDeps } from "../hosts/lambda.ts";
import { taskEventsHandler } from "../shared/app/queue-handlers.ts";
import type { CloudJobDeps } from "../shared/usecases/deps.ts";

const { deps, config } = lambdaDeps();

/** Subscribed to the task events queue (EventBridge "ECS Task State Change" → SQS), partial responses. */
export const handler = taskEventsHandler(deps as CloudJobDeps, config.cloud.ecs?.container ?? "job");
