// mkvserve player page (inlined by src/pages/player.ts; the CSP allows exactly this script). Asks the
// browser whether it can play the mount's container and codecs, and shows plainly when it cannot (or
// when the video fails) how to get WebM. Text is only ever set with textContent.
(function () {
  'use strict';
  var body = document.body;
  var video = document.getElementById('player');
  var state = document.getElementById('play-state');
  var box = document.getElementById('unsupported');
  var title = document.getElementById('unsupported-title');
  var why = document.getElementById('unsupported-why');
  var recipe = document.getElementById('recipe');
  var type = body.getAttribute('data-type') || '';
  var unknown = body.getAttribute('data-unknown') || '';
  var base = body.getAttribute('data-recipe-base') || '';

  // The ffmpeg line names this server as the browser reached it.
  if (recipe && base && recipe.textContent.indexOf(base) >= 0) {
    recipe.textContent = recipe.textContent.split(base).join(location.origin);
  }

  function say(text) {
    state.textContent = text;
  }

  function cannotPlay(heading, reason) {
    title.textContent = heading;
    why.textContent = reason;
    box.hidden = false;
    body.setAttribute('data-playable', 'no');
  }

  var MEDIA_ERRORS = ['', 'aborted', 'network error', 'decode error', 'format or codecs not supported'];

  if (type) {
    var answer = video.canPlayType(type);
    body.setAttribute('data-can-play', answer || 'no');
    if (answer === '') {
      // Do not download a stream that cannot play.
      video.removeAttribute('src');
      video.load();
      cannotPlay(
        'This browser cannot play this stream',
        'It is ' +
          type +
          ', and this browser says it has no decoder for that.' +
          (unknown ? ' (Codecs it was not asked about: ' + unknown + '.)' : ''),
      );
      say('Not playing: see below.');
      return;
    }
    // The server warns when the codecs are not WebM's; this browser says it can play them.
    if (!box.hidden) box.hidden = true;
  }

  function failed() {
    var e = video.error;
    var what = e ? MEDIA_ERRORS[e.code] || 'error ' + e.code : 'error';
    cannotPlay(
      'This browser could not play the stream',
      'The video failed (' + what + (e && e.message ? ': ' + e.message : '') + ').',
    );
    say('Stopped: ' + what + '.');
  }
  video.addEventListener('error', failed);
  if (video.error) failed(); // failed before this script ran
  video.addEventListener('playing', function () {
    body.setAttribute('data-playable', 'yes');
    say(video.muted ? 'Playing live (muted: use the controls to unmute).' : 'Playing live.');
  });
  video.addEventListener('waiting', function () {
    say('Buffering…');
  });
  video.addEventListener('ended', function () {
    say('The stream ended. Reload the page to join again.');
  });
  say('Connecting…');
})();
