import { writeFileSync } from 'node:fs';

/** Writes `lines` as the YAML configuration file at `file` (one `KEY: "value"` per line), as ORCH_CONFIG reads it. */
export function writeConfigFile(file: string, lines: Record<string, string>): void {
  writeFileSync(
    file,
    Object.entries(lines)
      .map(([key, value]) => `${key}: ${JSON.stringify(value)}`)
      .join('\n'),
  );
}

/** `POST /admin/config/reload` on the orchestrator at `url` (insecure dev mode: loopback needs no credential). */
export async function reloadConfig(url: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${url}/admin/config/reload`, { method: 'POST' });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}
