/**
 * firezone-gui: the desktop user's tray icon (StatusNotifierItem and dbusmenu over the session bus),
 * browser sign-in through deep links, the token in the desktop keyring, and notifications.
 */
export { App, type AppOptions } from "./app.ts";
export {
  APP_ID,
  APP_PATH,
  type ApplicationHandlers,
  exportApplication,
  FreedesktopApplication,
} from "./application.ts";
export { BrowserSignIn, type BrowserSignInOptions, xdgOpen } from "./browser_sign_in.ts";
export { type CopyResult, copyToClipboard } from "./clipboard.ts";
export { DaemonLink, type DaemonLinkOptions, type LinkEvent, type LinkHandlers } from "./daemon_link.ts";
export { DbusMenu, MENU_PATH } from "./dbusmenu.ts";
export {
  DEEP_LINK_SCHEME,
  type DeepLinkResult,
  parseDeepLink,
  SIGN_IN_CALLBACK_HOST,
  type SignInCallback,
} from "./deep_link.ts";
export { type ExportResult, exportLogs, exportPath, findFirezonectl } from "./export_logs.ts";
export { iconPixmaps, type Pixmap, renderIcon } from "./icons.ts";
export {
  claimInstance,
  ensurePrivateDir,
  InstanceMessage,
  type InstanceReply,
  sendToInstance,
} from "./instance.ts";
export { buildMenu, MAX_MENU_RESOURCES, type MenuAction, type MenuNode } from "./menu.ts";
export { type Notification, Notifier } from "./notifier.ts";
export { type Problem, problemFrom } from "./problem.ts";
export {
  type RedirectPage,
  redirectPageHtml,
  removeRedirectPage,
  writeRedirectPage,
} from "./redirect_page.ts";
export { run } from "./run.ts";
export { connectSessionBus, sessionBusAddress } from "./session_bus.ts";
export { type GuiSettings, loadSettings, type SettingsResult } from "./settings.ts";
export {
  type CompleteResult,
  type PendingSignIn,
  randomHex32,
  SIGN_IN_TTL_MS,
  SignInFlow,
  signInUrl,
} from "./sign_in_flow.ts";
export { type NoticeContext, statusNotice } from "./status_notice.ts";
export { ITEM_INTERFACE, ITEM_PATH, StatusNotifierItem } from "./status_notifier_item.ts";
export { KEYRING_SERVICE, KEYRING_USER, keyringTokenStore, type TokenStore } from "./token_store.ts";
export { Tray, type TrayOptions, WATCHER_NAME } from "./tray.ts";
export { initialView, otherOwner, type TrayState, type TrayView, tooltip, trayState } from "./tray_view.ts";
