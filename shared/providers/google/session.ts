/**
 * The access token for one pull or push: taken from the stored credentials
 * while it is fresh, otherwise obtained for this run only. Service accounts
 * mint a new token with a signed assertion; OAuth credentials refresh with
 * the stored refresh token, which Google does not rotate, so nothing that
 * must be persisted is lost. Persisting fresh tokens is the TokenRefresher's
 * job (through `auth.refresh`).
 */
import { EXPIRY_MARGIN_MS, refreshGoogleCredentials, type AuthContext } from './auth';
import type { GoogleRuntime } from './runtime';
import type { GoogleCredentials } from './schemas';

export class GoogleTokenSession {
  private credentials: GoogleCredentials;
  private renewed = false;

  constructor(
    private readonly ctx: AuthContext,
    credentials: GoogleCredentials,
    private readonly rt: Pick<GoogleRuntime, 'now'>,
  ) {
    this.credentials = credentials;
  }

  /** A token to send: the stored one while fresh, else a new one. */
  async token(): Promise<string> {
    const { accessToken, expiresAt } = this.credentials;
    const fresh = accessToken !== undefined && (expiresAt === undefined || expiresAt - this.rt.now() > EXPIRY_MARGIN_MS);
    if (fresh) return accessToken;
    if (!this.canRenew()) {
      // An expired OAuth token without a refresh token: send it and let Google's 401 become an AuthError.
      return accessToken ?? '';
    }
    await this.renew();
    return this.credentials.accessToken ?? '';
  }

  /** Whether a 401 is worth one renewal: a refresh token or a service-account key is at hand, and not yet used this run. */
  canRenew(): boolean {
    if (this.renewed) return false;
    return this.credentials.type === 'service_account' || this.credentials.refreshToken !== undefined;
  }

  /** Obtain a new token now (once per run: a second 401 after a renewal is a real auth failure). */
  async renew(): Promise<void> {
    this.renewed = true;
    this.credentials = await refreshGoogleCredentials(this.ctx, this.credentials, this.rt);
  }
}
