// The cnai extension: starts `cnai lsp` (the language server, over stdio) for .cnai files.
// Plain JavaScript, no build step. vscode-languageclient speaks the protocol
// (https://github.com/microsoft/vscode-languageserver-node); the grammar in syntaxes/ colours
// the text without the server.
"use strict";

const vscode = require("vscode");
const { LanguageClient, TransportKind } = require("vscode-languageclient/node");

let client;

function serverCommand() {
  const command = vscode.workspace.getConfiguration("cnai").get("path") || "cnai";
  return { command, args: ["lsp"], transport: TransportKind.stdio };
}

async function activate(context) {
  const server = serverCommand();
  client = new LanguageClient(
    "cnai",
    "cnai language server",
    { run: server, debug: server },
    {
      documentSelector: [{ scheme: "file", language: "cnai" }],
      synchronize: {
        fileEvents: vscode.workspace.createFileSystemWatcher("**/*.cnai"),
      },
    },
  );
  context.subscriptions.push(
    vscode.workspace.onDidChangeConfiguration(async (event) => {
      if (event.affectsConfiguration("cnai.path") && client) {
        await client.stop();
        client = undefined;
        await activate(context);
      }
    }),
  );
  try {
    await client.start();
  } catch (error) {
    vscode.window.showErrorMessage(
      `cnai: could not start "${server.command} lsp" (${error.message}). ` +
        "Install cnai with its language server (pip install 'cnai[lsp]') " +
        'or set "cnai.path" to the cnai command.',
    );
  }
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };
