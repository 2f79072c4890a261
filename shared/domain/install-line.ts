/**
 * The one line that installs Berth's agent on a GPU machine and registers it with `token` (install.sh, served
 * by the control plane at `endpoint`). The CLI prints it when a token is made, and so does the dashboard.
 */
export function installLine(endpoint: string, token: string, nodeGroup?: string): string {
  return `curl -fsSL ${endpoint}/install.sh | sudo BERTH_TOKEN=${token} sh${nodeGroup ? ` -s -- --node-group ${nodeGroup}` : ""}`;
}
