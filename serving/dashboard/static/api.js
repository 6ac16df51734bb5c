// The dashboard talks to the public JSON API with the key the user typed in, like any other client.
// The key lives in sessionStorage: it is gone when the tab is closed.

import { t } from "./i18n.js";

const KEY_STORAGE = "gridsense.apiKey";
export const KEY_HEADER = "X-API-Key";

export class ApiError extends Error {
  constructor(status, code, message, body) {
    super(message);
    this.status = status;
    this.code = code;
    this.body = body;
  }
}

export const session = {
  key: () => sessionStorage.getItem(KEY_STORAGE),
  save: (key) => sessionStorage.setItem(KEY_STORAGE, key),
  clear: () => sessionStorage.removeItem(KEY_STORAGE),
};

let onUnauthorized = () => {};

/** Called with the error when any request answers 401 (the key was revoked or is wrong). */
export function setUnauthorizedHandler(handler) {
  onUnauthorized = handler;
}

export async function api(path, { method = "GET", body, key } = {}) {
  const headers = { Accept: "application/json" };
  const apiKey = key ?? session.key();
  if (apiKey) headers[KEY_HEADER] = apiKey;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    cache: "no-store",
    credentials: "omit",
  });
  let data = null;
  try {
    data = await response.json();
  } catch {
    data = null;
  }
  if (!response.ok) {
    const error = (data && data.error) || {};
    const failure = new ApiError(response.status, error.code || "http_error", error.message || response.statusText, data);
    if (response.status === 401 && key === undefined) onUnauthorized(failure);
    throw failure;
  }
  return data;
}

/** A short explanation of an API failure in the site's language, for the panel that made the call. */
export function explain(error, needs) {
  if (!(error instanceof ApiError)) return t("请求失败：{0}", error.message || error);
  if (error.status === 401) return t("密钥无效或已吊销，请重新登录。");
  if (error.status === 403) return needs ? t("当前密钥的角色无权使用此功能（需要 {0} 角色）。", needs) : t("当前密钥的角色无权使用此功能。");
  if (error.status === 503) return t("服务尚未就绪：{0}", error.message);
  return t("请求失败（{0}）：{1}", error.status, error.message);
}
