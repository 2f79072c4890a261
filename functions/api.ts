import { handle } from "hono/aws-lambda";
import { lambdaDeps } from "../hosts/lambda.ts";
import { createApp } from "../shared/app/create-app.ts";

export const handler = handle(createApp(lambdaDeps().deps));
