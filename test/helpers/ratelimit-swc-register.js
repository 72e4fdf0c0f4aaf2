// Lets a plain `node` child process require the TypeScript sources directly,
// transformed by @swc/core the way jest's @swc/jest transform does, so child
// processes exercise the same code as the tests with no build step.
'use strict';
const fs = require('node:fs');
const swc = require('@swc/core');

const options = { jsc: { parser: { syntax: 'typescript' }, target: 'es2022' }, module: { type: 'commonjs' }, sourceMaps: 'inline' };

require.extensions['.ts'] = function compileTs(module, filename) {
  const { code } = swc.transformSync(fs.readFileSync(filename, 'utf8'), { ...options, filename });
  module._compile(code, filename);
};
