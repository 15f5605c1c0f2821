// Which page this is and what it is about: the server puts them on <body> as data-*.
const body = document.body;

export const page = body.dataset.page ?? "";

export const ctx = {
  ns: body.dataset.ns ?? "",
  cluster: body.dataset.cluster ?? "",
  node: body.dataset.node ?? "",
};

export const REFRESH_MS = 2000;
