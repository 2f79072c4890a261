/** Berth's version (the same as package.json's; a test checks): the API's `/healthz`, agents' logins, the CLI. */
export const BERTH_VERSION = "0.2.0";
