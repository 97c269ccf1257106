/* StackSync web: uploads with progress and drag-and-drop, and a folder
   page that refreshes itself when its workspace changes (long poll).
   Plain JavaScript, no build step; the pages work without it except for
   uploading. */
(function () {
  'use strict';
  var body = document.body;
  var prefix = body.dataset.prefix;
  var csrf = body.dataset.csrf;
  var folder = document.getElementById('folder');
  var uploading = 0;
  // Set once the page is being left (a form sent, a link followed): a
  // change seen by the long poll must not reload over the navigation.
  var leaving = false;
  document.addEventListener('submit', function () { leaving = true; });
  window.addEventListener('beforeunload', function () { leaving = true; });

  function uploadFile(file, folderId) {
    var list = document.getElementById('progress');
    var row = document.createElement('li');
    var name = document.createElement('span');
    var bar = document.createElement('progress');
    var state = document.createElement('span');
    name.textContent = file.name;
    bar.max = 100;
    bar.value = 0;
    state.textContent = 'waiting';
    row.append(name, bar, state);
    list.appendChild(row);
    return new Promise(function (resolve) {
      var xhr = new XMLHttpRequest();
      xhr.open('POST', prefix + 'upload?folder=' + folderId +
               '&name=' + encodeURIComponent(file.name));
      xhr.setRequestHeader('X-CSRF-Token', csrf);
      xhr.setRequestHeader('Accept', 'application/json');
      xhr.upload.onprogress = function (event) {
        if (event.lengthComputable) {
          bar.value = Math.round(100 * event.loaded / event.total);
          state.textContent = bar.value + '%';
        }
      };
      xhr.onload = function () {
        var ok = xhr.status >= 200 && xhr.status < 300;
        var message = 'done';
        if (!ok) {
          try { message = JSON.parse(xhr.responseText).error; }
          catch (e) { message = 'failed (' + xhr.status + ')'; }
        }
        bar.value = ok ? 100 : bar.value;
        state.textContent = message;
        row.className = ok ? 'done' : 'failed';
        resolve(ok);
      };
      xhr.onerror = function () {
        state.textContent = 'failed: no connection';
        resolve(false);
      };
      xhr.send(file);
    });
  }

  function uploadAll(files) {
    if (!files.length) { return; }
    var folderId = folder.dataset.folder;
    uploading += 1;
    var all = Array.prototype.map.call(files, function (file) {
      return uploadFile(file, folderId);
    });
    Promise.all(all).then(function (results) {
      uploading -= 1;
      if (results.every(Boolean)) { window.location.reload(); }
    });
  }

  function setUpUploads() {
    var input = document.getElementById('files');
    var zone = document.getElementById('upload');
    if (!input || !zone) { return; }
    input.addEventListener('change', function () {
      uploadAll(input.files);
      input.value = '';
    });
    zone.addEventListener('submit', function (event) {
      event.preventDefault();
    });
    ['dragenter', 'dragover'].forEach(function (kind) {
      document.addEventListener(kind, function (event) {
        event.preventDefault();
        zone.classList.add('over');
      });
    });
    ['dragleave', 'drop'].forEach(function (kind) {
      document.addEventListener(kind, function (event) {
        event.preventDefault();
        zone.classList.remove('over');
      });
    });
    document.addEventListener('drop', function (event) {
      uploadAll(event.dataTransfer.files);
    });
  }

  function poll(cursor) {
    var url = prefix + 'poll?workspace=' + folder.dataset.workspace +
              '&cursor=' + cursor;
    fetch(url, {credentials: 'same-origin',
                headers: {Accept: 'application/json'}})
      .then(function (response) {
        if (!response.ok) { throw new Error(response.status); }
        return response.json();
      })
      .then(function (answer) {
        if (leaving) { return; }
        if (answer.changes && !uploading) {
          window.location.reload();
          return;
        }
        poll(answer.cursor);
      })
      .catch(function () {
        window.setTimeout(function () { poll(cursor); }, 10000);
      });
  }

  function setUpLinkCopy() {
    var field = document.getElementById('link-url');
    if (field) { field.addEventListener('focus', field.select); }
  }

  if (folder) {
    setUpUploads();
    poll(folder.dataset.cursor);
  }
  setUpLinkCopy();
}());
