/**
 * AWS list prices the cost model uses, us-east-1, in USD. One table, so a price change is one edit.
 * Source: the AWS pricing pages named below (Lambda, Fargate, Elastic Load Balancing, DynamoDB on-demand),
 * as recorded on 2026-12-01; they are the figures the AWS-hosting issue (13) was costed with. Check them
 * before a budget depends on them: they change, and regions differ.
 */
export const PRICES = {
  recorded: "2026-12-01",
  region: "us-east-1",
  lambda: {
    source: "https://aws.amazon.com/lambda/pricing/ (Arm)",
    perGbSecond: 0.0000133334,
    perMillionRequests: 0.2,
  },
  fargate: {
    source: "https://aws.amazon.com/fargate/pricing/ (Linux/ARM)",
    perVcpuHour: 0.03238,
    perGbHour: 0.00356,
  },
  alb: {
    source: "https://aws.amazon.com/elasticloadbalancing/pricing/ (Application Load Balancer)",
    perHour: 0.0225,
    perLcuHour: 0.008,
    /** One LCU covers 3,000 active connections per minute (the dimension held polls use). */
    activeConnectionsPerLcu: 3000,
  },
  dynamodb: {
    source: "https://aws.amazon.com/dynamodb/pricing/on-demand/",
    perMillionReadUnits: 0.125,
    perMillionWriteUnits: 0.625,
  },
} as const;

/** Hours and minutes in the month the model bills (AWS uses 730 hours). */
export const HOURS_PER_MONTH = 730;
export const MINUTES_PER_MONTH = HOURS_PER_MONTH * 60;
