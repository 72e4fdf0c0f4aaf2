/**
 * Writes jest's counts to `.ci/jest-summary.json` after every run, so `.ci/run`
 * can print the plain `N passed, N failed` line while calling `npm test` exactly
 * as the README shows it.
 */
const { mkdirSync, writeFileSync } = require('node:fs');
const path = require('node:path');

class SummaryReporter {
  constructor(globalConfig) {
    this.rootDir = globalConfig.rootDir;
  }

  onRunComplete(_contexts, results) {
    const dir = path.join(this.rootDir, '.ci');
    mkdirSync(dir, { recursive: true });
    const summary = {
      passed: results.numPassedTests,
      failed: results.numFailedTests,
      skipped: results.numPendingTests + results.numTodoTests,
      suitesFailed: results.numFailedTestSuites,
      runtimeErrorSuites: results.numRuntimeErrorTestSuites,
    };
    writeFileSync(path.join(dir, 'jest-summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
  }
}

module.exports = SummaryReporter;
