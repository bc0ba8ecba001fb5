// The BrowserWindow options of the desktop app, hardened, as a constant a unit test can assert (no Electron import
// at run time, so the test runs under plain Node).
import type { BrowserWindowConstructorOptions } from 'electron'

export function windowOptions(preloadPath: string): BrowserWindowConstructorOptions {
  return {
    width: 1280,
    height: 860,
    minWidth: 900,
    minHeight: 600,
    show: false,
    title: 'Soliloquy',
    backgroundColor: '#fbfaf7',
    autoHideMenuBar: true,
    webPreferences: HARDENED_WEB_PREFERENCES(preloadPath),
  }
}

export function HARDENED_WEB_PREFERENCES(preloadPath: string): NonNullable<BrowserWindowConstructorOptions['webPreferences']> {
  return {
    preload: preloadPath,
    contextIsolation: true,
    sandbox: true,
    nodeIntegration: false,
    nodeIntegrationInWorker: false,
    nodeIntegrationInSubFrames: false,
    webSecurity: true,
    allowRunningInsecureContent: false,
    webviewTag: false,
    experimentalFeatures: false,
    navigateOnDragDrop: false,
    spellcheck: false,
    safeDialogs: true,
  }
}
