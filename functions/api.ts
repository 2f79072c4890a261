import { handle } from "hono/aws-lambda";
import { createApp } from "../shared/app/create-app.ts";
import { lambdaDeps } from "./lambda-deps.ts";

export const handler = handle(createApp(lambdaDeps().deps));
