// Electron main: one hardened window and the thin IPC router. The lab (engine, SQLite history, checkpoints) runs in an
// Electron utility process of its own behind the router (utilityLauncher.ts, src/main/host/), so the window never
// waits on it and a native fault in the engine ends that process, not the app.
import { app, BrowserWindow, dialog, ipcMain, session, shell } from 'electron'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { IPC_CHANNELS } from '../../shared/api'
import { LabHost } from '../host/host'
import { utilityLauncher } from './utilityLauncher'
import { DialogPaths, registerIpcRouter } from './ipc'
import { ensureDataDir, resolveDataDir } from '../lab/dataDir'
import { windowOptions } from './windowOptions'
import { shouldQuit } from './quitGuard'
import { appUrlMatcher, navigationGuard, requestAllowed, windowOpenHandler, withCspHeader } from './windowRules'

const rendererIndex = join(__dirname, '..', 'renderer', 'index.html')
const devUrl = !app.isPackaged ? process.env.ELECTRON_RENDERER_URL : undefined
const appUrl = devUrl ?? pathToFileURL(rendererIndex).href

const isAppUrl = appUrlMatcher({ rendererIndex, devUrl })

app.enableSandbox()

let host: LabHost | null = null
let win: BrowserWindow | null = null

function createWindow(): void {
  win = new BrowserWindow(windowOptions(join(__dirname, '..', 'preload', 'index.js')))
  win.once('ready-to-show', () => win?.show())
  win.on('closed', () => (win = null))
  if (devUrl) void win.loadURL(devUrl)
  else void win.loadFile(rendererIndex)
}

app.on('web-contents-created', (_e, contents) => {
  // no remote content: no navigation away from the app, no new windows, no webviews
  contents.on('will-navigate', navigationGuard(isAppUrl))
  contents.on('will-redirect', navigationGuard(isAppUrl))
  contents.on('will-attach-webview', (e) => e.preventDefault())
  // links to the seed's references open in the user's browser, never inside the app
  contents.setWindowOpenHandler(windowOpenHandler((url) => void shell.openExternal(url)))
})

void app.whenReady().then(() => {
  const ses = session.defaultSession
  ses.setPermissionRequestHandler((_wc, _perm, cb) => cb(false))
  ses.setPermissionCheckHandler(() => false)
  ses.webRequest.onHeadersReceived((details, cb) => {
    cb({ responseHeaders: withCspHeader(details.responseHeaders) })
  })
  ses.webRequest.onBeforeRequest((details, cb) => {
    // nothing leaves the machine: only the app's files (and the dev server while developing)
    cb({ cancel: !requestAllowed(details.url, devUrl) })
  })

  const dataDir = ensureDataDir(process.env.SOLILOQUY_DATA ? resolveDataDir(process.env.SOLILOQUY_DATA) : app.getPath('userData'))
  // the lab (engine + SQLite) in a utility process: a native fault there does not close the window
  host = new LabHost({ dataDir }, utilityLauncher())
  // lab events (a run or an experiment changed) go to every window: History updates without Refresh
  host.onEvent((e) => {
    for (const w of BrowserWindow.getAllWindows()) if (!w.webContents.isDestroyed()) w.webContents.send(IPC_CHANNELS.event, e)
  })
  registerIpcRouter(ipcMain, host, {
    trustedSender: isAppUrl,
    dialogPaths: new DialogPaths(),
    pickDirectory: async (purpose) => {
      const parent = win ?? undefined
      if (purpose === 'export-file') {
        // a GGUF export is one file: the save dialog, so the user names it
        const o = { title: 'Export the model as a GGUF file', defaultPath: 'model.gguf', filters: [{ name: 'GGUF', extensions: ['gguf'] }] }
        const r = parent ? await dialog.showSaveDialog(parent, o) : await dialog.showSaveDialog(o)
        return r.canceled || !r.filePath ? null : r.filePath
      }
      const opts: Electron.OpenDialogOptions =
        purpose === 'model-file'
          ? { title: 'Open a GGUF model file', properties: ['openFile'], filters: [{ name: 'GGUF', extensions: ['gguf'] }] }
          : purpose === 'model'
            ? { title: 'Open a model directory (Hugging Face or Meta layout)', properties: ['openDirectory'] }
            : { title: 'Choose a folder to export into', properties: ['openDirectory', 'createDirectory'] }
      const r = parent ? await dialog.showOpenDialog(parent, opts) : await dialog.showOpenDialog(opts)
      return r.canceled || r.filePaths.length === 0 ? null : r.filePaths[0]
    },
  })
  createWindow()
  app.on('activate', () => {
    if (BrowserWindow.getAllWindows().length === 0) createWindow()
  })
})

app.on('window-all-closed', () => {
  if (process.platform !== 'darwin') app.quit()
})

// jobs belong to the lab, not to a window (src/main/host/jobs.ts): closing a window leaves them running, but quitting
// stops the lab, so with jobs running the app asks first (quitGuard.ts)
let quitConfirmed = false
let asking = false
app.on('before-quit', (e) => {
  const running = host?.jobs.running() ?? []
  if (quitConfirmed || running.length === 0) return
  e.preventDefault()
  if (asking) return
  asking = true
  void shouldQuit(running, async (q) => {
    const parent = win ?? undefined
    const r = parent ? await dialog.showMessageBox(parent, { type: 'question', ...q }) : await dialog.showMessageBox({ type: 'question', ...q })
    return r.response
  }).then((quit) => {
    asking = false
    if (quit) {
      quitConfirmed = true
      app.quit()
    } else if (BrowserWindow.getAllWindows().length === 0) createWindow() // the jobs' window again, to watch them
  })
})

let quitting = false
app.on('will-quit', (e) => {
  if (quitting || !host) return
  e.preventDefault()
  quitting = true
  void host.close().finally(() => app.quit())
})

export { appUrl }
