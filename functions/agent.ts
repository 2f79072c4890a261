import { handle } from "hono/aws-lambda";
import { lambdaDeps } from "../hosts/lambda.ts";
import { createApp } from "../shared/app/create-app.ts";

/**
 * The agent routes' Lambda (agent hosting `lambda` or `lambda-short`, infra/agents.ts): the same app on the
 * same composition root as the API; only its size and poll settings differ.
 */
export const handler = handle(createApp(lambdaDeps().deps));
