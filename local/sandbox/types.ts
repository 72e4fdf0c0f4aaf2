/**
 * What `npm start` needs from each provider's sandbox: start it, get a demo
 * integration pointing at it, and a ready-to-paste signed webhook. Each
 * provider's sandbox folder exports one `SandboxFactory` from `demo.ts`;
 * local/sandbox/registry.ts lists them (no switch on provider names).
 */
export interface DemoIntegration {
  integrationId: string;
  /** Body for `PUT /api/admin/tenants/{t}/integrations/{integrationId}`. */
  body: {
    provider: string;
    baseUrl: string;
    config: Record<string, unknown>;
    credentials: Record<string, unknown>;
    webhookSecret?: string;
  };
}

export interface DemoCurl {
  /** Accepted (2xx). */
  signed: string;
  /** The same delivery tampered (401). */
  tampered: string;
}

export interface ProviderSandbox {
  provider: string;
  url: string;
  close(): Promise<void>;
  /** Seeds demo data in the sandbox and returns the integration to create. */
  demoIntegration(): DemoIntegration;
  /** Curl commands for a signed delivery to `webhookUrl`; undefined when the provider has no webhooks. */
  demoWebhook?(webhookUrl: string): DemoCurl;
}

export type SandboxFactory = () => Promise<ProviderSandbox>;

/** A curl command line, one option per line, body sent byte for byte. */
export function curlCommand(url: string, headers: Record<string, string>, body: string): string {
  const quote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;
  return [`curl -i -X POST ${url}`, ...Object.entries(headers).map(([k, v]) => `-H ${quote(`${k}: ${v}`)}`), `--data-binary ${quote(body)}`].join(' \\\n  ');
}
