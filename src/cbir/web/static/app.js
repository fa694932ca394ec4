// The last uploaded files, kept in the browser's IndexedDB (nothing leaves the browser): `keep(files)`, `kept()`.
// Either settles within two seconds, never fails: without IndexedDB nothing is kept, and kept() gives null.
const cbirUploads = (function () {
  function store(mode, work) {
    return new Promise((resolve) => {
      setTimeout(() => resolve(null), 2000);  // a browser whose IndexedDB never answers still sends the upload
      let opening;
      try { opening = indexedDB.open("cbir", 1); } catch (error) { resolve(null); return; }
      opening.onupgradeneeded = () => opening.result.createObjectStore("uploads");
      opening.onerror = () => resolve(null);
      opening.onsuccess = () => {
        const transaction = opening.result.transaction("uploads", mode);
        const request = work(transaction.objectStore("uploads"));
        transaction.oncomplete = () => resolve(request.result || null);
        transaction.onerror = () => resolve(null);
      };
    });
  }
  return {
    keep: (files) => store("readwrite", (uploads) => uploads.put([...files], "last")),
    kept: () => store("readonly", (uploads) => uploads.get("last")),
  };
})();

// Progressive enhancement: drag-and-drop and paste fill the file input and submit the form.
// Without JavaScript the plain file picker and Search button work the same way.
(function () {
  const form = document.getElementById("search-form");
  const input = document.getElementById("image");
  const drop = document.getElementById("drop");
  if (!form || !input || !drop) return;

  const maxBytes = Number(form.dataset.maxBytes) || Infinity;

  // Files over the server's limit (together) are refused here, before they are sent, with the server's own words.
  function tooLarge(files) {
    if ([...files].reduce((total, file) => total + file.size, 0) <= maxBytes) return false;
    let alert = document.querySelector("p.error");
    if (!alert) {
      alert = document.createElement("p");
      alert.className = "error";
      alert.setAttribute("role", "alert");
      form.after(alert);
    }
    alert.textContent = `the upload is larger than the ${Math.floor(maxBytes / 1048576)} MB limit`;
    input.value = "";
    return true;
  }

  // The files are kept in the browser (IndexedDB) before they are sent, so that the results page can send them
  // again: for a part at its full size, with results ticked or marked, for more results.
  function send() {
    document.getElementById("crop").value = "";
    cbirUploads.keep(input.files).then(() => form.submit());
  }

  // An image by its type, or by its name where the browser knows no type for it (a camera's raw file, HEIC on
  // some systems): the extensions the file picker accepts.
  const extensions = input.accept.split(",").filter((accepted) => accepted.startsWith("."));
  const isImage = (file) => file.type.startsWith("image/")
    || extensions.some((extension) => file.name.toLowerCase().endsWith(extension));

  // One image, or several to search with together.
  function submitFiles(files) {
    const images = [...files].filter(isImage);
    if (!images.length || tooLarge(images)) return;
    const transfer = new DataTransfer();
    images.forEach((image) => transfer.items.add(image));
    input.files = transfer.files;
    send();
  }

  input.addEventListener("change", () => { if (input.files.length && !tooLarge(input.files)) send(); });
  ["dragenter", "dragover"].forEach((type) => drop.addEventListener(type, (event) => {
    event.preventDefault();
    drop.classList.add("over");
  }));
  ["dragleave", "drop"].forEach((type) => drop.addEventListener(type, () => drop.classList.remove("over")));
  drop.addEventListener("drop", (event) => {
    event.preventDefault();
    submitFiles(event.dataTransfer.files);
  });
  document.addEventListener("paste", (event) => {
    const item = [...event.clipboardData.items].find((i) => i.kind === "file" && i.type.startsWith("image/"));
    if (item) submitFiles([item.getAsFile()]);
  });
})();

// A part of the query: drag across its picture to search with that part (`crop`, fractions of the picture).
// An indexed image's part is asked for by address; an uploaded image is sent again (the file kept when it was
// chosen, else the picture shown) with the part.
// A picture's own rectangle in the window (its <img> letterboxes it: object-fit: contain).
function pictureIn(img) {
  const r = img.getBoundingClientRect();
  const scale = Math.min(r.width / img.naturalWidth, r.height / img.naturalHeight);
  const width = img.naturalWidth * scale, height = img.naturalHeight * scale;
  return { left: r.left + (r.width - width) / 2, top: r.top + (r.height - height) / 2, width, height };
}

(function () {
  const section = document.getElementById("query");
  const pic = document.getElementById("query-pic");
  const form = document.getElementById("search-form");
  if (!section || !pic || !form) return;
  const img = pic.querySelector("img");
  img.draggable = false;  // a drag draws a box, not a copy of the picture
  const box = document.createElement("span");
  box.className = "crop-box";
  box.hidden = true;
  pic.append(box);
  const hint = document.createElement("p");
  hint.className = "meta";
  hint.id = "crop-hint";
  hint.textContent = "Drag across the picture to search with a part of it.";
  pic.nextElementSibling.append(hint);

  const shown = () => pictureIn(img);
  function place([left, top, width, height]) {
    const s = shown(), p = pic.getBoundingClientRect();
    box.style.left = `${s.left - p.left + left * s.width}px`;
    box.style.top = `${s.top - p.top + top * s.height}px`;
    box.style.width = `${width * s.width}px`;
    box.style.height = `${height * s.height}px`;
    box.hidden = false;
  }
  const searched = section.dataset.crop ? section.dataset.crop.split(",").map(Number) : null;
  function restore() {
    if (searched) place(searched); else box.hidden = true;
  }
  if (img.complete) restore(); else img.addEventListener("load", restore);

  const clamp = (v) => Math.min(1, Math.max(0, v));
  function at(event) {
    const s = shown();
    return [clamp((event.clientX - s.left) / s.width), clamp((event.clientY - s.top) / s.height)];
  }
  const spanned = (a, b) => [Math.min(a[0], b[0]), Math.min(a[1], b[1]), Math.abs(a[0] - b[0]), Math.abs(a[1] - b[1])];
  let start = null;
  pic.addEventListener("pointerdown", (event) => {
    if (event.target.closest("a, label") || !img.naturalWidth) return;  // a link, or the tick box
    event.preventDefault();
    start = at(event);
    pic.setPointerCapture(event.pointerId);
  });
  pic.addEventListener("pointermove", (event) => { if (start) place(spanned(start, at(event))); });
  pic.addEventListener("pointerup", (event) => {
    if (!start) return;
    const part = spanned(start, at(event)), s = shown();
    start = null;
    if (part[2] * s.width < 6 || part[3] * s.height < 6) { restore(); return; }  // a click, not a drag
    search(part.map((v) => Number(v.toFixed(4))).join(","));
  });

  async function search(crop) {
    if (section.dataset.id) {
      const address = new URL(location.href);
      address.searchParams.set("crop", crop);
      location.assign(address);
      return;
    }
    await sendAgain(section, form, { crop });
  }
})();

// The names of the uploaded images the page shows (none for an indexed query).
const uploadedNames = (section) => JSON.parse(section.dataset.files || "[]");

// The uploaded query sent again with more (a part of it, results ticked or marked "not", the next results): the
// files kept when they were chosen, else the pictures shown of them.
async function sendAgain(section, form, fields) {
  const names = uploadedNames(section);
  const kept = await cbirUploads.kept();
  let files = Array.isArray(kept) && kept.map((file) => file.name).join("/") === names.join("/") ? kept : null;
  if (!files) {
    const shown = [...section.querySelectorAll("img[src^='data:']")].slice(0, names.length);
    files = shown.map((img, n) => {
      const [head, data] = img.src.split(",");
      const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
      return new File([bytes], names[n], { type: head.slice(5, head.indexOf(";")) });
    });
  }
  const transfer = new DataTransfer();
  files.forEach((file) => transfer.items.add(file));
  document.getElementById("image").files = transfer.files;
  document.getElementById("crop").value = fields.crop || "";
  for (const [name, values] of Object.entries(fields.more || {})) {
    values.forEach((value) => {
      const input = Object.assign(document.createElement("input"), { type: "hidden", name, value });
      form.append(input);
    });
  }
  form.submit();
}

// The ticked images' buttons: usable once an image is ticked to search with (without JavaScript, a click with none
// ticked is answered with what to do). An image is wanted or not, never both: ticking one box of it unticks the other.
(function () {
  const form = document.getElementById("together");
  if (!form) return;
  const boxes = [...document.querySelectorAll('input[form="together"]')];
  // an uploaded query is searched with in any case: a mark alone is enough
  const upload = document.getElementById("query") && uploadedNames(document.getElementById("query")).length;
  const update = () => form.querySelectorAll("button:not([data-always])").forEach((button, n) => {
    button.disabled = !boxes.some((box) => box.checked && (box.name === "id" || (upload && n === 0)));
  });
  boxes.forEach((box) => box.addEventListener("change", () => {
    if (box.checked) {
      box.closest(".hit, .query-pic").querySelectorAll('input[form="together"]').forEach((other) => {
        if (other !== box) other.checked = false;
      });
    }
    update();
  }));
  update();

  // An uploaded query is searched with too: sent again with the ticked and marked results (a download is not).
  const section = document.getElementById("query");
  const search = document.getElementById("search-form");
  form.addEventListener("submit", (event) => {
    if (!section || !uploadedNames(section).length || !search || event.submitter !== form.querySelector("button")) {
      return;
    }
    event.preventDefault();
    const checked = (name) => boxes.filter((box) => box.checked && box.name === name).map((box) => box.value);
    sendAgain(section, search, { more: { id: checked("id"), unlike: checked("unlike") } });
  });
})();

// More results after an upload: it is sent again for them (the address of any other search says it all).
(function () {
  const more = document.getElementById("more");
  const section = document.getElementById("query");
  const search = document.getElementById("search-form");
  if (!more || !section || !uploadedNames(section).length || !search) return;
  more.hidden = false;
  more.addEventListener("submit", (event) => {
    event.preventDefault();
    const values = (name) => [...more.querySelectorAll(`input[name="${name}"]`)].map((input) => input.value);
    sendAgain(section, search, { crop: values("crop")[0], more: { id: values("id"), unlike: values("unlike"),
                                                                  offset: values("offset") } });
  });
})();

// A search by words, or a look through the images, is an address of its own (/?words=dog, /?browse=1&folder=2019/):
// the form's empty fields and the file picker stay out of it (and the words out of a look through), and Enter in
// the words field finds them rather than asking for a file.
(function () {
  const find = document.getElementById("find");
  const browse = document.getElementById("browse");
  const words = document.getElementById("words");
  const form = document.getElementById("search-form");
  if (!find || !words || !form) return;
  words.addEventListener("keydown", (event) => {
    if (event.key === "Enter") { event.preventDefault(); form.requestSubmit(find); }
  });
  form.addEventListener("submit", (event) => {
    if (event.submitter !== find && event.submitter !== browse) return;
    if (event.submitter === find && !words.value.trim()) { event.preventDefault(); words.focus(); return; }
    form.querySelectorAll("input, select").forEach((field) => {
      if (field.type === "file" || !field.value || (field.type === "checkbox" && !field.checked)
          || (event.submitter === browse && field === words)) field.disabled = true;
    });
    setTimeout(() => form.querySelectorAll("[disabled]").forEach((field) => { field.disabled = false; }));
  });
})();

// A result's "open" shows it large on the page (without JavaScript, its own page in a tab): the arrow keys and the
// buttons go through the results (or a slideshow, every `SLIDE_MS`), Esc closes, and its "more like this" and the
// original file are a click away.
const SLIDE_MS = 4000;
(function () {
  const viewer = document.getElementById("viewer");
  const hits = [...document.querySelectorAll(".results .hit")].filter((hit) => hit.querySelector("a.open"));
  if (!viewer || !hits.length || typeof viewer.showModal !== "function") return;
  const img = viewer.querySelector("img");
  const faces = facesIn(viewer, img);
  let at = 0;
  function show(n) {
    at = (n + hits.length) % hits.length;
    const link = hits[at].querySelector("a:not(.open)");  // none where a duplicate leads nowhere
    const open = hits[at].querySelector("a.open");
    const named = hits[at].querySelector("[title]:not(.open)");
    const video = viewer.querySelector("video");
    const moving = "video" in open.dataset;  // a video plays where a photo shows
    img.hidden = moving;
    video.hidden = !moving;
    video.pause();
    const src = open.dataset.src || open.href;  // the file: "open" leads to its own page where it has one
    if (moving) video.src = src; else { video.removeAttribute("src"); img.src = src; }
    img.alt = hits[at].querySelector("img").alt;
    const marks = [...hits[at].querySelectorAll(".tags")].map((mark) => mark.title).filter(Boolean);  // people, tags
    viewer.querySelector(".caption").textContent = `#${at + 1} · ${named.title.replace(/: more like this$/, "")}`
      + marks.map((mark) => ` · ${mark}`).join("");
    const like = viewer.querySelector("a.like");
    like.hidden = !link;
    if (link) like.href = link.href;
    viewer.querySelector("a.original").href = src;
    const written = viewer.querySelector(".written");  // what is written in it, to read or copy
    written.hidden = !open.dataset.text;
    written.textContent = open.dataset.text || "";
    const page = viewer.querySelector("a.page");
    page.hidden = !open.dataset.src;
    if (open.dataset.src) page.href = open.href;
    faces.show(moving ? null : open.dataset.faces);
    if (album) album.querySelector(".said").textContent = "";
    toggles.forEach((toggle) => {
      const inIt = albumsOf(hits[at]).some((name) => same(name, toggle.dataset.album));
      toggle.setAttribute("aria-pressed", String(inIt));
      toggle.textContent = inIt ? toggle.dataset.on : toggle.dataset.off;
    });
  }
  const same = (a, b) => a.localeCompare(b, undefined, { sensitivity: "base" }) === 0;  // as the server names them
  function albumsOf(hit) {
    const mark = hit.querySelector(".tags.albums");
    return mark ? mark.dataset.albums.split("\n").filter(Boolean) : [];
  }
  // a result's albums changed here: it says so, as the page would have
  function setAlbums(hit, names) {
    let mark = hit.querySelector(".tags.albums");
    names = [...new Set(names)].sort((a, b) => a.localeCompare(b, undefined, { sensitivity: "base" }));
    if (!names.length) { if (mark) mark.remove(); return; }
    if (!mark) {
      mark = document.createElement("span");
      mark.className = "tags albums";
      hit.querySelector("a:not(.open)").appendChild(mark);
    }
    mark.dataset.albums = names.join("\n");
    mark.textContent = `in ${names.join(", ")}`;
    mark.title = `in the album${names.length > 1 ? "s" : ""} ${names.join(", ")}`;
  }
  // an album changed for the result shown (`change`: add or remove), kept in the engine at once; the answer's JSON
  async function changeAlbum(form, name, change) {
    const hit = hits[at];
    const answer = await fetch(`${form.dataset.url}/${encodeURIComponent(name)}`, {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ engine: form.dataset.engine, [change]: [hit.querySelector('input[name="id"]').value] }) });
    const body = await answer.json();
    if (answer.ok) {
      setAlbums(hit, change === "add" ? [...albumsOf(hit), body.album]
        : albumsOf(hit).filter((album) => !same(album, name)));
      if (hits[at] === hit) show(at);
    }
    return [answer.ok, body];
  }
  // "Put in the album"
  const album = viewer.querySelector("form.to-album");
  if (album) album.addEventListener("submit", async (event) => {
    event.preventDefault();
    const [done, body] = await changeAlbum(album, album.querySelector("input").value.trim(), "add");
    album.querySelector(".said").textContent = done ? `Put in ${body.album}.` : body.error;
  });
  // ♡: a favorite (in the album of favorites), or no longer; Archive: out of the timeline, or back
  const toggles = viewer.querySelectorAll("button.in-album");
  async function toggle(button) {
    const [done, body] = await changeAlbum(button, button.dataset.album,
                                           button.getAttribute("aria-pressed") === "true" ? "remove" : "add");
    if (!done && album) album.querySelector(".said").textContent = body.error;
  }
  toggles.forEach((button) => button.addEventListener("click", () => toggle(button)));
  const heart = viewer.querySelector("button.favourite");
  hits.forEach((hit, n) => {
    const large = (event) => {
      if (event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) return;  // a tab, as asked
      event.preventDefault();
      show(n);
      viewer.showModal();
      viewer.querySelector("[data-step='1']").focus();  // not a hidden video's controls: the arrows go through
    };
    hit.querySelector("a.open").addEventListener("click", large);
    const card = hit.querySelector(":scope > div[title]");  // a result that leads nowhere: itself shows it large
    if (card) card.addEventListener("click", large);
  });
  viewer.querySelectorAll("[data-step]").forEach((button) => button.addEventListener("click", () => {
    show(at + Number(button.dataset.step));
  }));
  // A slideshow: the next result every few seconds, until played again (Space), or closed
  const play = viewer.querySelector(".play");
  let playing = null;
  function slideshow(on) {
    clearInterval(playing);
    playing = on ? setInterval(() => show(at + 1), SLIDE_MS) : null;
    play.textContent = on ? "⏸" : "▶";
    play.setAttribute("aria-label", on ? "pause" : "play");
  }
  play.addEventListener("click", () => slideshow(!playing));
  viewer.querySelector(".close").addEventListener("click", () => viewer.close());
  viewer.addEventListener("close", () => { viewer.querySelector("video").pause(); slideshow(false); });
  viewer.addEventListener("click", (event) => { if (event.target === viewer) viewer.close(); });  // the backdrop
  document.addEventListener("keydown", (event) => {  // wherever the focus went, but a video's own (it seeks)
    if (viewer.open && !["VIDEO", "INPUT"].includes(event.target.tagName)
        && (event.key === "ArrowRight" || event.key === "ArrowLeft")) {
      event.preventDefault();
      show(at + (event.key === "ArrowRight" ? 1 : -1));
    } else if (viewer.open && event.key === " " && !["VIDEO", "INPUT"].includes(event.target.tagName)) {  // not a click
      event.preventDefault();
      slideshow(!playing);
    } else if (viewer.open && heart && event.key.toLowerCase() === "f" && !event.ctrlKey && !event.metaKey
               && event.target.tagName !== "INPUT") {
      event.preventDefault();
      toggle(heart);
    }
  });
})();

// The faces found in the large view's photo, framed with who they are (on an engine whose faces were looked for): a
// click on one says whose it is (a name, or nobody's: kept in the engine), or leads to that person's photos.
function facesIn(viewer, img) {
  const layer = viewer.querySelector(".faces"), form = viewer.querySelector("form.face-name");
  if (!layer || !form) return { show() {} };
  const input = form.querySelector("input"), nobody = form.querySelector(".nobody"), yes = form.querySelector(".yes");
  const their = form.querySelector("a.their"), alike = form.querySelector("a.like-face");
  const said = form.querySelector(".said");
  let address = null, image = null, found = [], chosen = null;
  const named = (face) => face.person && face.who !== `person ${face.person}`;
  function draw() {
    layer.replaceChildren();
    if (img.hidden || !img.naturalWidth) return;
    const picture = pictureIn(img), frame = layer.getBoundingClientRect();
    for (const face of found) {
      const [left, top, right, bottom] = face.box;
      const box = document.createElement("button");
      box.type = "button";
      box.className = "face" + (face === chosen ? " chosen" : "");
      box.style.left = `${picture.left - frame.left + left * picture.width}px`;
      box.style.top = `${picture.top - frame.top + top * picture.height}px`;
      box.style.width = `${(right - left) * picture.width}px`;
      box.style.height = `${(bottom - top) * picture.height}px`;
      const label = document.createElement("span");
      label.textContent = face.person ? face.who : `${face.maybe}?`;
      box.append(label);
      box.title = face.person ? `${face.who}: name this face, or see their photos` : "who is this? name this face";
      box.addEventListener("click", () => choose(face));
      layer.append(box);
    }
  }
  function choose(face) {
    chosen = face;
    form.hidden = !face;
    said.textContent = "";
    if (face) {
      input.value = named(face) ? face.who : "";
      nobody.hidden = !face.person;
      nobody.textContent = `Not ${face.who}`;
      yes.hidden = !face.maybe;
      yes.textContent = `Yes, ${face.maybe}`;
      their.hidden = !face.person;
      const photos = new URL(viewer.dataset.personUrl, location.href);
      photos.searchParams.set("person", named(face) ? face.who : face.person);
      their.href = photos;
      their.textContent = `${face.who}'s photos`;
      const like = new URL(viewer.dataset.faceUrl, location.href);
      like.searchParams.set("id", image);
      like.searchParams.set("face", face.face);
      alike.href = like;
      input.focus();
    }
    draw();
  }
  async function load(url) {
    const answer = await fetch(url);
    if (url !== address || !answer.ok) return;
    const body = await answer.json();
    [image, found] = [body.image, body.faces];
    choose(null);
  }
  async function send(fields) {
    const url = address;
    const answer = await fetch(url, { method: "POST", headers: { "Content-Type": "application/json" },
                                      body: JSON.stringify({ engine: viewer.dataset.engine, face: chosen.face,
                                                             ...fields }) });
    const body = await answer.json();
    if (url !== address) return;  // another photo shown meanwhile
    if (!answer.ok) { said.textContent = body.error; return; }
    found = body.faces;
    choose(null);
  }
  form.addEventListener("submit", (event) => { event.preventDefault(); if (chosen) send({ name: input.value }); });
  nobody.addEventListener("click", () => { if (chosen) send({ nobody: true }); });
  yes.addEventListener("click", () => { if (chosen) send({ name: chosen.maybe }); });
  img.addEventListener("load", draw);
  window.addEventListener("resize", draw);
  return {
    show(url) {
      address = url || null;
      found = [];
      choose(null);
      if (address) load(address);
    },
  };
}

// A button that undoes what cannot be had back asks first (without JavaScript, it does not).
document.querySelectorAll("button[data-confirm]").forEach((button) => button.addEventListener("click", (event) => {
  if (!window.confirm(button.dataset.confirm)) event.preventDefault();
}));
