// Loads extension.js with stand-ins for the `vscode` API and vscode-languageclient (neither
// runs outside VS Code) and prints, as JSON, how activate() starts the language server for a
// given `cnai.path` setting (argv[2]; none: the default). tests/test_textmate.py reads it.
"use strict";

const Module = require("module");
const path = require("path");

const started = [];
const configured = process.argv[2];

const vscode = {
  workspace: {
    getConfiguration: (section) => ({
      get: (key) => (section === "cnai" && key === "path" ? configured : undefined),
    }),
    createFileSystemWatcher: (glob) => ({ glob }),
    onDidChangeConfiguration: () => ({ dispose() {} }),
  },
  window: { showErrorMessage: (message) => started.push({ error: message }) },
};

class LanguageClient {
  constructor(id, name, serverOptions, clientOptions) {
    this.record = { id, name, serverOptions, clientOptions };
  }
  async start() {
    started.push(this.record);
  }
  async stop() {}
}

const fakes = {
  vscode,
  "vscode-languageclient/node": { LanguageClient, TransportKind: { stdio: 0 } },
};
const load = Module._load;
Module._load = function (request, parent, isMain) {
  return Object.prototype.hasOwnProperty.call(fakes, request)
    ? fakes[request]
    : load.call(this, request, parent, isMain);
};

const extension = require(path.join(__dirname, "..", "extension.js"));
extension.activate({ subscriptions: [] }).then(() => {
  process.stdout.write(JSON.stringify(started));
});
