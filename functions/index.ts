/** Loads every function so each registers itself (the worker also loads these files by the `main` glob). */
import './AdminConflicts';
import './AdminCredentials';
import './AdminDeadLetters';
import './AdminIntegrations';
import './AdminLimits';
import './AdminRecords';
import './AdminSync';
import './AdminTenants';
import './AdminWebhookHandshake';
import './DeadLetterCollector';
import './Health';
import './OAuthCallback';
import './OAuthStart';
import './SyncInboundWorker';
import './SyncOutboundWorker';
import './SyncScheduler';
import './TokenRefresher';
import './WebhookReceiver';

export { definitions } from './definitions';
