import { lambdaDeps } from "../hosts/lambda.ts";
import { provisionHandler } from "../shared/app/queue-handlers.ts";
import type { CloudJobDeps } from "../shared/usecases/deps.ts";

/** Subscribed to the provision queue (infra/workers.ts), with partial batch responses. */
export const handler = provisionHandler(lambdaDeps().deps as CloudJobDeps);
