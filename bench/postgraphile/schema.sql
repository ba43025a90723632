-- PostGraphile 5's view of Chirp's home timeline, public feed, account timelines, threads and
-- posts by id, for bench/compare.py, in its own schema (bench_pg): two views over Chirp's
-- tables, each page as a set-returning function of the viewer's id (an account's posts and a
-- thread as computed columns of the account and post a function finds for the viewer), and
-- the viewer-dependent fields as computed columns. PostGraphile does no
-- authentication here: the viewer's id is an argument of the query, trusted as given.
-- The predicates are bench/raw.py's (models/posts/policies.py in SQL). Idempotent:
--
--     psql postgresql://postgres@127.0.0.1:5432/chirp_bench -f bench/postgraphile/schema.sql

DROP SCHEMA IF EXISTS bench_pg CASCADE;
CREATE SCHEMA bench_pg;

CREATE VIEW bench_pg.account AS
  SELECT id, handle, display_name FROM public.accounts;
COMMENT ON VIEW bench_pg.account IS E'@primaryKey id';

CREATE VIEW bench_pg.post AS
  SELECT id, author_id, body, created_at, like_count, reply_count, repost_count, thread_root_id
  FROM public.posts;
COMMENT ON VIEW bench_pg.post IS
  E'@primaryKey id\n@foreignKey (author_id) references bench_pg.account (id)|@fieldName author';

-- One SQL statement that PostgreSQL inlines into PostGraphile's query, so its LIMIT reaches
-- the feed's index scan.
CREATE FUNCTION bench_pg.home_timeline(viewer bigint) RETURNS SETOF bench_pg.post
LANGUAGE sql STABLE AS $$
  SELECT p.id, p.author_id, p.body, p.created_at, p.like_count, p.reply_count,
         p.repost_count, p.thread_root_id
  FROM public.feed_entries f JOIN public.posts p ON p.id = f.post_id
  WHERE f.owner_id = viewer
    AND p.deleted_at IS NULL
          AND NOT EXISTS (SELECT FROM public.blocks b
                          WHERE (b.blocker_id = viewer AND b.blocked_id = p.author_id)
                             OR (b.blocker_id = p.author_id AND b.blocked_id = viewer))
          AND (p.author_id = viewer
               OR (p.hidden_at IS NULL
                   AND ((p.visibility = 'PUBLIC'
                         AND NOT EXISTS (SELECT FROM public.accounts la
                                         WHERE la.id = p.author_id
                                           AND la.limited_at IS NOT NULL))
                        OR EXISTS (SELECT FROM public.follows fo
                                   WHERE fo.follower_id = viewer
                                     AND fo.followee_id = p.author_id))))
          AND (p.repost_of_id IS NULL
               OR EXISTS (SELECT FROM public.posts o WHERE o.id = p.repost_of_id
                          AND o.hidden_at IS NULL AND o.deleted_at IS NULL
          AND NOT EXISTS (SELECT FROM public.blocks b
                          WHERE (b.blocker_id = viewer AND b.blocked_id = o.author_id)
                             OR (b.blocker_id = o.author_id AND b.blocked_id = viewer))
          AND (o.author_id = viewer
               OR (o.hidden_at IS NULL
                   AND ((o.visibility = 'PUBLIC'
                         AND NOT EXISTS (SELECT FROM public.accounts la
                                         WHERE la.id = o.author_id
                                           AND la.limited_at IS NOT NULL))
                        OR EXISTS (SELECT FROM public.follows fo
                                   WHERE fo.follower_id = viewer
                                     AND fo.followee_id = o.author_id))))))
    AND NOT EXISTS (SELECT FROM public.mutes m
                        WHERE m.muter_id = viewer AND m.muted_id = p.author_id)
          AND (p.repost_of_id IS NULL
               OR NOT EXISTS (SELECT FROM public.posts mo JOIN public.mutes mm ON mm.muted_id = mo.author_id
                              WHERE mo.id = p.repost_of_id AND mm.muter_id = viewer))
  ORDER BY f.post_id DESC
$$;

-- models/timeline/queries.py::public_page, for a signed-in viewer.
CREATE FUNCTION bench_pg.public_feed(viewer bigint) RETURNS SETOF bench_pg.post
LANGUAGE sql STABLE AS $$
  SELECT p.id, p.author_id, p.body, p.created_at, p.like_count, p.reply_count,
         p.repost_count, p.thread_root_id
  FROM public.posts p
  WHERE p.visibility = 'PUBLIC' AND p.deleted_at IS NULL AND p.reply_to_id IS NULL
    AND p.deleted_at IS NULL
          AND NOT EXISTS (SELECT FROM public.blocks b
                          WHERE (b.blocker_id = viewer AND b.blocked_id = p.author_id)
                             OR (b.blocker_id = p.author_id AND b.blocked_id = viewer))
          AND (p.author_id = viewer
               OR (p.hidden_at IS NULL
                   AND ((p.visibility = 'PUBLIC'
                         AND NOT EXISTS (SELECT FROM public.accounts la
                                         WHERE la.id = p.author_id
                                           AND la.limited_at IS NOT NULL))
                        OR EXISTS (SELECT FROM public.follows fo
                                   WHERE fo.follower_id = viewer
                                     AND fo.followee_id = p.author_id))))
          AND (p.repost_of_id IS NULL
               OR EXISTS (SELECT FROM public.posts o WHERE o.id = p.repost_of_id
                          AND o.hidden_at IS NULL AND o.deleted_at IS NULL
          AND NOT EXISTS (SELECT FROM public.blocks b
                          WHERE (b.blocker_id = viewer AND b.blocked_id = o.author_id)
                             OR (b.blocker_id = o.author_id AND b.blocked_id = viewer))
          AND (o.author_id = viewer
               OR (o.hidden_at IS NULL
                   AND ((o.visibility = 'PUBLIC'
                         AND NOT EXISTS (SELECT FROM public.accounts la
                                         WHERE la.id = o.author_id
                                           AND la.limited_at IS NOT NULL))
                        OR EXISTS (SELECT FROM public.follows fo
                                   WHERE fo.follower_id = viewer
                                     AND fo.followee_id = o.author_id))))))
    AND (p.author_id = viewer
               OR NOT EXISTS (SELECT FROM public.accounts pl
                              WHERE pl.id = p.author_id AND pl.limited_at IS NOT NULL))
    AND NOT EXISTS (SELECT FROM public.mutes m
                        WHERE m.muter_id = viewer AND m.muted_id = p.author_id)
          AND (p.repost_of_id IS NULL
               OR NOT EXISTS (SELECT FROM public.posts mo JOIN public.mutes mm ON mm.muted_id = mo.author_id
                              WHERE mo.id = p.repost_of_id AND mm.muter_id = viewer))
  ORDER BY p.id DESC
$$;

-- resolvers/accounts.py::account_by_handle: null when no account has the handle (any letter
-- case) or a block stands between it and the viewer. Its `posts` below.
CREATE FUNCTION bench_pg.visible_account(viewer bigint, handle text) RETURNS bench_pg.account
LANGUAGE sql STABLE AS $$
  SELECT a.id, a.handle, a.display_name FROM public.accounts a
  WHERE a.handle_key = lower(visible_account.handle)
    AND NOT EXISTS (SELECT FROM public.blocks b
                    WHERE (b.blocker_id = viewer AND b.blocked_id = a.id)
                       OR (b.blocker_id = a.id AND b.blocked_id = viewer))
$$;

-- models/timeline/queries.py::account_page: the account's posts, replies and reposts the
-- viewer may see, no repost of a muted author's post, newest first.
CREATE FUNCTION bench_pg.account_posts(account bench_pg.account, viewer bigint)
RETURNS SETOF bench_pg.post LANGUAGE sql STABLE AS $$
  SELECT p.id, p.author_id, p.body, p.created_at, p.like_count, p.reply_count,
         p.repost_count, p.thread_root_id
  FROM public.posts p
  WHERE p.author_id = account.id
    AND p.deleted_at IS NULL
          AND NOT EXISTS (SELECT FROM public.blocks b
                          WHERE (b.blocker_id = viewer AND b.blocked_id = p.author_id)
                             OR (b.blocker_id = p.author_id AND b.blocked_id = viewer))
          AND (p.author_id = viewer
               OR (p.hidden_at IS NULL
                   AND ((p.visibility = 'PUBLIC'
                         AND NOT EXISTS (SELECT FROM public.accounts la
                                         WHERE la.id = p.author_id
                                           AND la.limited_at IS NOT NULL))
                        OR EXISTS (SELECT FROM public.follows fo
                                   WHERE fo.follower_id = viewer
                                     AND fo.followee_id = p.author_id))))
          AND (p.repost_of_id IS NULL
               OR EXISTS (SELECT FROM public.posts o WHERE o.id = p.repost_of_id
                          AND o.hidden_at IS NULL AND o.deleted_at IS NULL
          AND NOT EXISTS (SELECT FROM public.blocks b
                          WHERE (b.blocker_id = viewer AND b.blocked_id = o.author_id)
                             OR (b.blocker_id = o.author_id AND b.blocked_id = viewer))
          AND (o.author_id = viewer
               OR (o.hidden_at IS NULL
                   AND ((o.visibility = 'PUBLIC'
                         AND NOT EXISTS (SELECT FROM public.accounts la
                                         WHERE la.id = o.author_id
                                           AND la.limited_at IS NOT NULL))
                        OR EXISTS (SELECT FROM public.follows fo
                                   WHERE fo.follower_id = viewer
                                     AND fo.followee_id = o.author_id))))))
    AND (p.repost_of_id IS NULL
         OR NOT EXISTS (SELECT FROM public.posts mo JOIN public.mutes mm ON mm.muted_id = mo.author_id
                        WHERE mo.id = p.repost_of_id AND mm.muter_id = viewer))
  ORDER BY p.id DESC
$$;

-- The `visible_posts_by_id` loader: the post if the viewer may see it, else null (node(id:),
-- post(id:)). Its `thread` below.
CREATE FUNCTION bench_pg.visible_post(viewer bigint, post_id bigint) RETURNS bench_pg.post
LANGUAGE sql STABLE AS $$
  SELECT p.id, p.author_id, p.body, p.created_at, p.like_count, p.reply_count,
         p.repost_count, p.thread_root_id
  FROM public.posts p
  WHERE p.id = visible_post.post_id
    AND p.deleted_at IS NULL
          AND NOT EXISTS (SELECT FROM public.blocks b
                          WHERE (b.blocker_id = viewer AND b.blocked_id = p.author_id)
                             OR (b.blocker_id = p.author_id AND b.blocked_id = viewer))
          AND (p.author_id = viewer
               OR (p.hidden_at IS NULL
                   AND ((p.visibility = 'PUBLIC'
                         AND NOT EXISTS (SELECT FROM public.accounts la
                                         WHERE la.id = p.author_id
                                           AND la.limited_at IS NOT NULL))
                        OR EXISTS (SELECT FROM public.follows fo
                                   WHERE fo.follower_id = viewer
                                     AND fo.followee_id = p.author_id))))
          AND (p.repost_of_id IS NULL
               OR EXISTS (SELECT FROM public.posts o WHERE o.id = p.repost_of_id
                          AND o.hidden_at IS NULL AND o.deleted_at IS NULL
          AND NOT EXISTS (SELECT FROM public.blocks b
                          WHERE (b.blocker_id = viewer AND b.blocked_id = o.author_id)
                             OR (b.blocker_id = o.author_id AND b.blocked_id = viewer))
          AND (o.author_id = viewer
               OR (o.hidden_at IS NULL
                   AND ((o.visibility = 'PUBLIC'
                         AND NOT EXISTS (SELECT FROM public.accounts la
                                         WHERE la.id = o.author_id
                                           AND la.limited_at IS NOT NULL))
                        OR EXISTS (SELECT FROM public.follows fo
                                   WHERE fo.follower_id = viewer
                                     AND fo.followee_id = o.author_id))))))
$$;

-- models/timeline/queries.py::thread_page: the post's thread root and its replies the viewer
-- may see, oldest first.
CREATE FUNCTION bench_pg.post_thread(post bench_pg.post, viewer bigint)
RETURNS SETOF bench_pg.post LANGUAGE sql STABLE AS $$
  SELECT p.id, p.author_id, p.body, p.created_at, p.like_count, p.reply_count,
         p.repost_count, p.thread_root_id
  FROM public.posts p
  WHERE (p.id = coalesce(post.thread_root_id, post.id)
         OR p.thread_root_id = coalesce(post.thread_root_id, post.id))
    AND p.deleted_at IS NULL
          AND NOT EXISTS (SELECT FROM public.blocks b
                          WHERE (b.blocker_id = viewer AND b.blocked_id = p.author_id)
                             OR (b.blocker_id = p.author_id AND b.blocked_id = viewer))
          AND (p.author_id = viewer
               OR (p.hidden_at IS NULL
                   AND ((p.visibility = 'PUBLIC'
                         AND NOT EXISTS (SELECT FROM public.accounts la
                                         WHERE la.id = p.author_id
                                           AND la.limited_at IS NOT NULL))
                        OR EXISTS (SELECT FROM public.follows fo
                                   WHERE fo.follower_id = viewer
                                     AND fo.followee_id = p.author_id))))
          AND (p.repost_of_id IS NULL
               OR EXISTS (SELECT FROM public.posts o WHERE o.id = p.repost_of_id
                          AND o.hidden_at IS NULL AND o.deleted_at IS NULL
          AND NOT EXISTS (SELECT FROM public.blocks b
                          WHERE (b.blocker_id = viewer AND b.blocked_id = o.author_id)
                             OR (b.blocker_id = o.author_id AND b.blocked_id = viewer))
          AND (o.author_id = viewer
               OR (o.hidden_at IS NULL
                   AND ((o.visibility = 'PUBLIC'
                         AND NOT EXISTS (SELECT FROM public.accounts la
                                         WHERE la.id = o.author_id
                                           AND la.limited_at IS NOT NULL))
                        OR EXISTS (SELECT FROM public.follows fo
                                   WHERE fo.follower_id = viewer
                                     AND fo.followee_id = o.author_id))))))
  ORDER BY p.id ASC
$$;

CREATE FUNCTION bench_pg.post_viewer_has_liked(post bench_pg.post, viewer bigint)
RETURNS boolean LANGUAGE sql STABLE AS $$
  SELECT EXISTS (SELECT FROM public.likes l WHERE l.account_id = viewer AND l.post_id = post.id)
$$;

-- Chirp's visible_reply_counts, through the thread index as bench/raw.py does.
CREATE FUNCTION bench_pg.post_visible_reply_count(post bench_pg.post, viewer bigint)
RETURNS integer LANGUAGE sql STABLE AS $$
  SELECT CASE WHEN post.reply_count = 0 THEN 0 ELSE (
    SELECT count(*)::integer FROM public.posts r
    WHERE r.thread_root_id = coalesce(post.thread_root_id, post.id)
      AND r.reply_to_id = post.id
      AND r.deleted_at IS NULL
            AND NOT EXISTS (SELECT FROM public.blocks b
                            WHERE (b.blocker_id = viewer AND b.blocked_id = r.author_id)
                               OR (b.blocker_id = r.author_id AND b.blocked_id = viewer))
            AND (r.author_id = viewer
                 OR (r.hidden_at IS NULL
                     AND ((r.visibility = 'PUBLIC'
                           AND NOT EXISTS (SELECT FROM public.accounts la
                                           WHERE la.id = r.author_id
                                             AND la.limited_at IS NOT NULL))
                          OR EXISTS (SELECT FROM public.follows fo
                                     WHERE fo.follower_id = viewer
                                       AND fo.followee_id = r.author_id))))
            AND (r.repost_of_id IS NULL
                 OR EXISTS (SELECT FROM public.posts o WHERE o.id = r.repost_of_id
                            AND o.hidden_at IS NULL AND o.deleted_at IS NULL
            AND NOT EXISTS (SELECT FROM public.blocks b
                            WHERE (b.blocker_id = viewer AND b.blocked_id = o.author_id)
                               OR (b.blocker_id = o.author_id AND b.blocked_id = viewer))
            AND (o.author_id = viewer
                 OR (o.hidden_at IS NULL
                     AND ((o.visibility = 'PUBLIC'
                           AND NOT EXISTS (SELECT FROM public.accounts la
                                           WHERE la.id = o.author_id
                                             AND la.limited_at IS NOT NULL))
                          OR EXISTS (SELECT FROM public.follows fo
                                     WHERE fo.follower_id = viewer
                                       AND fo.followee_id = o.author_id))))))) END
$$;
