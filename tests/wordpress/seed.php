<?php
/*
 * Changes the test site and describes it, for tests/wordpress_site.py:
 *     php seed.php DOCROOT < commands.json > site.json
 *
 * commands.json is an object; every key is optional and applied in this order:
 *   "users":      [{"login", "display_name", "role"}]
 *   "categories": [{"slug", "name", "parent": slug or null}]  (the first becomes
 *                 the default category; "Uncategorized" is removed)
 *   "posts":      [{"key", "title", "content", "excerpt", "categories": [slug],
 *                   "status", "date_gmt": "Y-m-d H:i:s", "author": login,
 *                   "password", "image": {"format": "jpeg"|"png", "width", "height",
 *                   "inline": also at the top of the content} or null, "edit": {"title", "content"} or null}]
 *   "edits":      [{"id", "title"?, "content"?}]   (a later edit: modified = now)
 *   "php":        code run after the rest, its output returned as "php_output"
 * The answer is the site as WordPress sees it: {"categories": [...], "posts": [...]}.
 */
$_SERVER['HTTP_HOST'] = parse_url(getenv('WP_FIXTURE_HOME'), PHP_URL_HOST);
require $argv[1] . '/wp-load.php';
require_once ABSPATH . 'wp-admin/includes/image.php';
require_once ABSPATH . 'wp-admin/includes/file.php';
require_once ABSPATH . 'wp-admin/includes/media.php';

global $wpdb;
$commands = json_decode(file_get_contents('php://stdin'), true, 512, JSON_THROW_ON_ERROR);
wp_set_current_user(1);  // the administrator: may post any HTML, like an editor's browser

function fixture_fail($what, $result) {
    fwrite(STDERR, $what . ': ' . (is_wp_error($result) ? $result->get_error_message() : var_export($result, true)) . "\n");
    exit(1);
}

function fixture_category_id($slug) {
    $term = get_term_by('slug', $slug, 'category');
    if (!$term) {
        fixture_fail('no such category', $slug);
    }
    return (int) $term->term_id;
}

function fixture_user_id($login) {
    $user = get_user_by('login', $login);
    if (!$user) {
        fixture_fail('no such user', $login);
    }
    return (int) $user->ID;
}

/* A picture drawn with GD: bands of colour and a few shapes, different for every seed. */
function fixture_image_file($seed, $format, $width, $height) {
    $image = imagecreatetruecolor($width, $height);
    mt_srand($seed);
    for ($band = 0; $band < 8; $band++) {
        $colour = imagecolorallocate($image, mt_rand(0, 255), mt_rand(0, 255), mt_rand(0, 255));
        imagefilledrectangle($image, 0, intdiv($band * $height, 8), $width, intdiv(($band + 1) * $height, 8), $colour);
    }
    for ($shape = 0; $shape < 12; $shape++) {
        $colour = imagecolorallocate($image, mt_rand(0, 255), mt_rand(0, 255), mt_rand(0, 255));
        imagefilledellipse($image, mt_rand(0, $width), mt_rand(0, $height), mt_rand(20, $width / 3), mt_rand(20, $height / 3), $colour);
    }
    $file = tempnam(sys_get_temp_dir(), 'wp-fixture-image-');
    if ($format === 'png') {
        imagepng($image, $file);
    } else {
        imagejpeg($image, $file, 82);
    }
    imagedestroy($image);
    return $file;
}

foreach ($commands['users'] ?? [] as $user) {
    $id = wp_insert_user([
        'user_login' => $user['login'],
        'user_pass' => wp_generate_password(),
        'user_email' => $user['login'] . '@example.org',
        'display_name' => $user['display_name'],
        'nickname' => $user['display_name'],
        'role' => $user['role'] ?? 'author',
    ]);
    if (is_wp_error($id)) {
        fixture_fail('user ' . $user['login'], $id);
    }
}

$first_category = true;
foreach ($commands['categories'] ?? [] as $category) {
    $args = ['slug' => $category['slug']];
    if (!empty($category['parent'])) {
        $args['parent'] = fixture_category_id($category['parent']);
    }
    $term = wp_insert_term($category['name'], 'category', $args);
    if (is_wp_error($term)) {
        fixture_fail('category ' . $category['slug'], $term);
    }
    if ($first_category) {
        $first_category = false;
        $uncategorized = (int) get_option('default_category');
        update_option('default_category', $term['term_id']);
        if ($uncategorized && $uncategorized !== (int) $term['term_id']) {
            wp_delete_term($uncategorized, 'category');
        }
    }
}

foreach ($commands['posts'] ?? [] as $number => $post) {
    $id = wp_insert_post([
        'post_title' => $post['title'],
        'post_content' => $post['content'],
        'post_excerpt' => $post['excerpt'] ?? '',
        'post_status' => $post['status'],
        'post_date_gmt' => $post['date_gmt'],
        'post_author' => fixture_user_id($post['author']),
        'post_password' => $post['password'] ?? '',
        'post_category' => array_map('fixture_category_id', $post['categories']),
        'meta_input' => ['_fixture_key' => $post['key']],
    ], true);
    if (is_wp_error($id)) {
        fixture_fail('post ' . $post['key'], $id);
    }
    // The guid WordPress's editor gives a post (its auto-draft's link), not the pretty link
    // wp_insert_post() stores for a post created published.
    $wpdb->update($wpdb->posts, ['guid' => home_url('/?p=' . $id)], ['ID' => $id]);
    clean_post_cache($id);
    if (!empty($post['image'])) {
        $image = $post['image'];
        $extension = $image['format'] === 'png' ? 'png' : 'jpg';
        $file = fixture_image_file(crc32($post['key']), $image['format'], $image['width'], $image['height']);
        $attachment = media_handle_sideload(
            ['name' => sanitize_title($post['title']) . '.' . $extension, 'tmp_name' => $file],
            $id, $post['title']);
        if (is_wp_error($attachment)) {
            fixture_fail('image of ' . $post['key'], $attachment);
        }
        update_post_meta($attachment, '_wp_attachment_image_alt', 'Illustration: ' . $post['title']);
        set_post_thumbnail($id, $attachment);
        if (!empty($image['inline'])) {
            // Also at the top of the text, as the block editor puts it (not an edit: the
            // modified date stays).
            $figure = '<figure class="wp-block-image size-medium_large">'
                . wp_get_attachment_image($attachment, 'medium_large') . '</figure>';
            $wpdb->update($wpdb->posts, ['post_content' => $figure . "\n\n" . $post['content']],
                          ['ID' => $id]);
            clean_post_cache($id);
        }
    }
    if (!empty($post['edit'])) {
        $result = wp_update_post(['ID' => $id, 'post_title' => $post['edit']['title'],
                                  'post_content' => $post['edit']['content']], true);
        if (is_wp_error($result)) {
            fixture_fail('edit of ' . $post['key'], $result);
        }
    }
}

foreach ($commands['edits'] ?? [] as $edit) {
    $change = ['ID' => $edit['id']];
    if (isset($edit['title'])) {
        $change['post_title'] = $edit['title'];
    }
    if (isset($edit['content'])) {
        $change['post_content'] = $edit['content'];
    }
    $result = wp_update_post($change, true);
    if (is_wp_error($result)) {
        fixture_fail('edit of post ' . $edit['id'], $result);
    }
}

$php_output = null;
if (isset($commands['php'])) {
    ob_start();
    eval($commands['php']);
    $php_output = ob_get_clean();
}

// Rules for the categories and feeds, made in a process that knows the permalink structure.
if (!get_option('rewrite_rules')) {
    flush_rewrite_rules(false);
}

/* The site as WordPress sees it. */
$categories = [];
foreach (get_terms(['taxonomy' => 'category', 'hide_empty' => false, 'orderby' => 'term_id']) as $term) {
    $parent = $term->parent ? get_term($term->parent, 'category') : null;
    $categories[] = ['id' => $term->term_id, 'slug' => $term->slug, 'name' => $term->name,
                     'parent' => $parent ? $parent->slug : null, 'count' => $term->count];
}
$posts = [];
$query = new WP_Query(['post_type' => 'post', 'post_status' => 'any', 'posts_per_page' => -1,
                       'orderby' => ['date' => 'ASC', 'ID' => 'ASC'], 'no_found_rows' => true,
                       'suppress_filters' => true]);
foreach ($query->posts as $post) {
    $image = null;
    $thumbnail = (int) get_post_thumbnail_id($post);
    if ($thumbnail) {
        $meta = wp_get_attachment_metadata($thumbnail);
        $sizes = [];
        foreach ($meta['sizes'] ?? [] as $name => $size) {
            $sizes[$name] = ['url' => wp_get_attachment_image_url($thumbnail, $name),
                             'width' => $size['width'], 'height' => $size['height']];
        }
        $image = ['id' => $thumbnail, 'url' => wp_get_attachment_url($thumbnail),
                  'width' => $meta['width'], 'height' => $meta['height'],
                  'mime_type' => get_post_mime_type($thumbnail),
                  'alt' => get_post_meta($thumbnail, '_wp_attachment_image_alt', true),
                  'sizes' => $sizes];
    }
    $posts[] = [
        'id' => $post->ID,
        'key' => get_post_meta($post->ID, '_fixture_key', true),
        'title' => $post->post_title,
        'slug' => $post->post_name,
        'link' => get_permalink($post),
        'guid' => get_the_guid($post),
        'status' => $post->post_status,
        'date_gmt' => $post->post_date_gmt,
        'modified_gmt' => $post->post_modified_gmt,
        'author' => get_the_author_meta('display_name', $post->post_author),
        'password' => $post->post_password !== '',
        'categories' => wp_get_post_categories($post->ID, ['fields' => 'slugs']),
        'content' => $post->post_content,
        'excerpt' => $post->post_excerpt,
        'image' => $image,
    ];
}
echo json_encode(['categories' => $categories, 'posts' => $posts, 'php_output' => $php_output,
                  'now_gmt' => current_time('mysql', true)],
                 JSON_PRETTY_PRINT | JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE), "\n";
