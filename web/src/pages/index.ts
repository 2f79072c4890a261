import type { Page } from "../page.ts";
import { application, applications } from "./applications.tsx";
import { cloud } from "./cloud.tsx";
import { devices } from "./devices.tsx";
import { job } from "./job.tsx";
import { jobs } from "./jobs.tsx";
import { lab } from "./lab.tsx";
import { overview } from "./overview.tsx";
import { profiles } from "./profiles.tsx";
import { secrets } from "./secrets.tsx";
import { tokens } from "./tokens.tsx";

/** Every page, in navigation order. A new page (applications, secrets, labs, GPU health) is one more module. */
export const PAGES: Page[] = [
  overview,
  devices,
  jobs,
  job,
  applications,
  application,
  lab,
  tokens,
  profiles,
  secrets,
  cloud,
];
