/** Every provider sandbox `npm start` runs. Adding a provider's sandbox is one line here. */
import { githubDemoSandbox } from './github/demo';
import { googleDemoSandbox } from './google/demo';
import { notionDemoSandbox } from './notion/demo';
import { salesforceDemoSandbox } from './salesforce/demo';
import { slackDemoSandbox } from './slack/demo';
import type { SandboxFactory } from './types';

export const sandboxFactories: readonly SandboxFactory[] = [githubDemoSandbox, slackDemoSandbox, notionDemoSandbox, salesforceDemoSandbox, googleDemoSandbox];
