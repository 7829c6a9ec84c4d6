// The blog's front end: plain DOM code, no build step. Every URL is relative, so requests go
// through the ingress (host posts.com): /posts/create -> posts, /posts -> query,
// /posts/<id>/comments -> comments.

const postsEl = document.getElementById('posts');
const errorEl = document.getElementById('error');

const showError = (message) => {
  errorEl.textContent = message || '';
  errorEl.hidden = !message;
};

const postJSON = async (url, body) => {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`POST ${url}: ${res.status} ${res.statusText}`);
  return res.json();
};

const commentText = (comment) => {
  if (comment.status === 'pending') return 'This comment is awaiting moderation';
  if (comment.status === 'rejected') return 'This comment has been rejected';
  return comment.content;
};

const renderComments = (listEl, comments) => {
  listEl.replaceChildren(
    ...comments.map((comment) => {
      const li = document.createElement('li');
      li.className = 'comment';
      li.dataset.commentId = comment.id;
      li.dataset.status = comment.status;
      li.textContent = commentText(comment);
      return li;
    })
  );
};

// A post card: title, comment count, comments, and the form to add one. Cards are kept across
// refreshes so a comment being typed is not lost when the list is polled.
const createCard = (post) => {
  const card = document.createElement('div');
  card.className = 'post';
  card.dataset.postId = post.id;
  card.innerHTML = `
    <h3 class="post-title"></h3>
    <p class="comment-count"></p>
    <ul class="comments"></ul>
    <form class="comment-form">
      <label>New Comment <input class="comment-input" name="content" autocomplete="off" required /></label>
      <button class="add-comment" type="submit">Submit</button>
    </form>`;

  const form = card.querySelector('.comment-form');
  const input = card.querySelector('.comment-input');
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const content = input.value;
    if (!content) return;
    try {
      await postJSON(`/posts/${encodeURIComponent(post.id)}/comments`, { content });
      input.value = '';
      showError('');
    } catch (err) {
      showError(err.message);
    }
    refresh();
  });
  return card;
};

let lastRendered = '';

const render = (posts) => {
  const json = JSON.stringify(posts);
  if (json === lastRendered) return;
  lastRendered = json;

  const list = Object.values(posts);
  const ids = new Set(list.map((post) => post.id));
  const existing = new Map();
  postsEl.querySelectorAll('.post').forEach((card) => {
    if (ids.has(card.dataset.postId)) existing.set(card.dataset.postId, card);
    else card.remove(); // gone from the query service (e.g. it restarted without the bus)
  });

  list.forEach((post, index) => {
    const card = existing.get(post.id) || createCard(post);
    card.querySelector('.post-title').textContent = post.title;
    const comments = post.comments || [];
    card.querySelector('.comment-count').textContent = `${comments.length} comments`;
    renderComments(card.querySelector('.comments'), comments);
    // Keep the query service's order; move a card only when it is out of place (moving a card
    // would take the focus from its comment input).
    const at = postsEl.children[index];
    if (at !== card) postsEl.insertBefore(card, at || null);
  });
};

let refreshing = false;

const refresh = async () => {
  if (refreshing) return;
  refreshing = true;
  try {
    const res = await fetch('/posts', { headers: { Accept: 'application/json' } });
    if (!res.ok) throw new Error(`GET /posts: ${res.status} ${res.statusText}`);
    render(await res.json());
    if (errorEl.textContent.startsWith('GET /posts')) showError('');
  } catch (err) {
    showError(err.message);
  } finally {
    refreshing = false;
  }
};

document.getElementById('post-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const input = document.getElementById('post-title');
  const title = input.value;
  if (!title) return;
  try {
    await postJSON('/posts/create', { title });
    input.value = '';
    showError('');
  } catch (err) {
    showError(err.message);
  }
  refresh();
});

refresh();
setInterval(refresh, 1000);
