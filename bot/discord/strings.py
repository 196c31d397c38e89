"""Every user-facing string of the Discord front end: replies, buttons, forms, command and
option descriptions. One place, so that wording can be reviewed and changed together; the
other modules of :mod:`bot.discord` only look strings up here.
"""

from __future__ import annotations

TEXT = {
    # -- moderation (bot/discord/moderation/) ---------------------------------------------------
    "mod_not_moderator": (
        "Only moderators can do that: members with the Manage Messages permission or a "
        "moderator role."
    ),
    "mod_not_writer": (
        "Only moderators and writers can do that: members with the Manage Messages "
        "permission, a moderator role or a writer role."
    ),
    "mod_not_home": (
        "This server can't change the shared knowledge base: only the bot's home server(s) "
        "can. Nothing was changed."
    ),
    "mod_no_home": (
        "No home server is configured, so nobody can change the knowledge base from Discord. "
        "The bot's admin can list this server's id in `home_guilds` under `[discord]` in the "
        "config file. Nothing was changed."
    ),
    "mod_refused": "Not done: {reason}. Nothing was changed.",
    "mod_done": "Done: {action} (question `{id}`, now version {version}).",
    "mod_done_removed": "Done: question `{id}` is removed (version {version}).",
    "mod_add_title": "Add a question",
    "mod_edit_title": "Edit a question",
    "mod_field_question": "Question",
    "mod_field_phrasings": "Alternate phrasings (one per line)",
    "mod_field_phrasings_hint": "Other ways people ask the same thing",
    "mod_field_tags": "Tags (separated by commas)",
    "mod_field_tags_hint": "e.g. alignment, basics",
    "mod_field_answer": "Answer",
    "mod_field_new_answer": "New answer (optional)",
    "mod_field_canonical": "Canonical answer",
    "mod_field_canonical_hint": "Canonical answers are shown first",
    "mod_pick_answer": "This question has {count} answers. Which one do you want to edit?",
    "mod_pick_answer_hint": "Choose an answer",
    "mod_confirm_question": "Remove the question `{id}` ({text}) and all its answers?",
    "mod_confirm_answer": "Remove the answer `{answer}` of question `{id}`?",
    "mod_remove_button": "Remove",
    "mod_cancel_button": "Cancel",
    "mod_cancelled": "Cancelled. Nothing was changed.",
    "mod_show_id": "**id** `{id}`",
    "mod_show_text": "**question** {text}",
    "mod_show_phrasings": "**alternate phrasings**",
    "mod_show_tags": "**tags** {tags}",
    "mod_show_none": "none",
    "mod_show_no_answers": "*No answers yet.*",
    "mod_show_answer": "answer `{id}`{canonical}{author}",
    "mod_show_canonical": " (canonical)",
    "mod_show_more": "…and {count} more answer(s)",
    "mod_history_title": "History of `{id}`, newest first:",
    "mod_history_row": "**v{version}** {when} · {who} · {action}{current}",
    "mod_history_shipped": "**v0** {action}{current}",
    "mod_history_current": " ← current",
    "mod_history_hint": "Go back with `/answer revert` and a version number.",
    "mod_removed_choice": "{id} (removed)",
    "mod_save_command": "Save as answer",
    "mod_save_title": "Save this message as an answer",
    "mod_save_existing": "Answer to an existing question",
    "mod_save_existing_hint": "The closest questions, best first",
    "mod_save_new": "…or to a new question",
    "mod_save_new_hint": "Type the new question",
    "mod_save_empty": "That message has no text to save as an answer. Nothing was changed.",
    "mod_save_both": (
        "Choose an existing question or type a new one, not both. Nothing was changed."
    ),
    "mod_saved": "{result} The answer is credited to {author}.",
    "mod_queue_title": "Unanswered questions {first}-{last} of {total}, most asked first:",
    "mod_queue_row": "`#{id}` ({count}×) {text}",
    "mod_queue_hint": (
        "Use `/unanswered answer`, `/unanswered merge` or `/unanswered dismiss` with the number."
    ),
    "mod_queue_empty": "No unanswered questions. 🎉",
    "mod_queue_past_end": "No more items on this page; go back a page.",
    "mod_proposals_title": "Proposed phrasings {first}-{last} of {total}, most proposed first:",
    "mod_proposals_row": "`#{id}` ({count}×) {text} → {question}",
    "mod_proposals_hint": "Use `/unanswered approve` or `/unanswered reject` with the number.",
    "mod_proposals_empty": "No proposed phrasings to review.",
    "mod_previous": "Previous",
    "mod_next": "Next",
    "mod_item_choice": "#{id} ({count}×) {text}",
    "mod_proposal_choice": "#{id} {text} → {question}",
    "mod_dismissed": "Dismissed unanswered question #{id}: {text}",
    "mod_rejected": "Rejected proposed phrasing #{id}: {text}",
    "mod_reload_same": "Reloaded the answers files: nothing changed.",
    "mod_reload_changed": "Reloaded the answers files: {summary}.",
    "mod_reload_ids": "{label}: {ids}",
    "mod_reload_failed": (
        "Not reloaded: {count} error(s) in the answers files. The bot keeps serving the "
        "knowledge base it had. Fix these and reload again:"
    ),
    "mod_reload_more": "…and {count} more error(s); run `stampy check` to see them all.",
    "mod_reload_skipped": (
        "{count} stored change(s) clash with the files and are not applied (the files' "
        "version is served):"
    ),
    "footer": "React with :stamp: to give this answer your stamp of approval",
    "stamps_field": "Stamps",
    "stamps": "{count} stamps",
    "stamp": "1 stamp",
    "tags_field": "Tags",
    "author_field": "Answer by",
    "source_field": "Source",
    "truncated_note": "\n\n*(The full answer is longer than Discord allows in one message.)*",
    "no_answer_yet": "That's a known question, but nobody has written an answer yet.",
    "no_match": (
        "I don't know the answer to that yet. I've noted the question so that someone can "
        "write an answer."
    ),
    "suggest": "I'm not sure which question you mean. Did you mean:",
    "suggest_row": "{number}. {text}",
    "empty": "Hi! Ask me a question, for example: “stampy, what is AI alignment?”",
    "apology": "Sorry, something went wrong while answering that. The error has been logged.",
    # The reaction on a question that waits its turn (the answer follows when it is up).
    "wait_reaction": "⏳",
    "button_apology": "Sorry, something went wrong with that button. The error has been logged.",
    "command_refused": "You can't use that command here.",
    "command_apology": "Sorry, that command failed. The error has been logged.",
    "more_button": "Other answers",
    "why_button": "Why this answer?",
    "why": "Matched the stored phrasing “{phrasing}” with score {score:.2f}.",
    "why_reason": "Why: {reason}.",
    "why_fallback": (
        "Why: the match was judged right with a probability of at least {threshold:.2f}, "
        "the confidence it needs to answer."
    ),
    "why_picked": "Why: it was picked from the “Did you mean…?” choices.",
    "more_title": "Another answer to: {question}",
    "more_none": "This question has no other answers.",
    "more_hidden": "…and {count} more answer(s) that do not fit in one message.",
    "gone": "That question is no longer in the knowledge base.",
    "stamps_group": "Stamps of approval: reputation and leaderboard",
    "stamps_show": "A member's stamp score, and the stamps they received and gave",
    "stamps_show_member": "Whose stamps (default: yours)",
    "stamps_top": "The members with the highest stamp scores",
    "stamps_user": (
        "{user} is worth **{score:.2f}** stamps. They received {received} and gave {given}."
    ),
    "stamps_top_title": "Stamp leaderboard (reputation, as stamps worth):",
    "stamps_top_row": "{rank}. {user}: {score:.2f}",
    "stamps_top_empty": "Nobody has a stamp score yet.",
    "stamps_off": "Stamps are not recorded here (the bot has no database).",
    # -- members' commands and browsing (bot/discord/browsing/) ---------------------------
    "ask_choice_id": "id:{id}",
    "ask_empty": "Type a question after `/ask`, for example: what is AI alignment?",
    "help_title": "How to use Stampy",
    "help_ask_name": "Ask",
    "help_ask": (
        "Use `/ask` (pick a question from the list, or type your own), mention me, start a "
        "message with `stampy,`, or message me directly. When I'm not sure I offer up to three "
        "“Did you mean” choices; when I don't know, I say so and note the question for the "
        "writers."
    ),
    "help_stamp_name": "Stamp",
    "help_stamp": (
        "React to an answer with :stamp: (1) or :goldstamp: (5), or 🏅 where there are no "
        "stamp emojis, to endorse it. Stamps count for the answer's author, weighted by the "
        "stamper's reputation (`/stamps show`, `/stamps top`). Well-stamped answers are "
        "proposed to moderators as canonical."
    ),
    "help_browse_name": "Browse",
    "help_browse": (
        "`/tags` lists the topics; `/tag` shows one: its description, the questions with a "
        "canonical answer, those with other answers only, and those nobody has answered yet. "
        "Every question there is a button that shows its answer to you alone. Answers offer "
        "related questions, and *Report a problem* if one is wrong."
    ),
    "help_moderate_name": "Moderators",
    "help_moderate": (
        "Members with Manage Messages or a moderator role curate the knowledge base: "
        "`/answer` (add, edit, phrasings, tags, related questions, canonical, history, "
        "revert), `/unanswered` (unanswered, unanswered canonical, reports, promotions, "
        "proposed phrasings) and `/stampy reload`. Writers (a writer role) can use "
        "`/unanswered canonical` to find questions that need an answer."
    ),
    "tags_title": "Tags",
    "tags_row": "`{name}` · {count} question{plural}",
    "tags_more": "…and {count} more tag(s); type one in `/tag`.",
    "tags_empty": "There are no tags yet.",
    "tag_title": "Tag: {name}",
    "tag_missing": (
        "*This tag has no description yet.* A moderator can add one, so that members know "
        "what it covers."
    ),
    "tag_link": "More: {link}",
    "tag_main": "Start with: **{question}**",
    "tag_canonical": "Canonically answered",
    "tag_non_canonical": "Non-canonical answers",
    "tag_non_canonical_hint": "Show your endorsement by giving an answer a stamp of approval.",
    "tag_unanswered": "Unanswered canonical questions",
    "tag_row": "{number}. {text}",
    "tag_row_stamps": "{number}. {text} · {stamps}",
    "tag_empty": "No questions have this tag yet.",
    "tag_footer": "Page {page} of {pages} · {total} question(s) · buttons show an answer to you",
    "tag_unknown": "There is no tag called {name}. `/tags` lists them.",
    "related_button": "Related: {text}",
    "unanswered_known": (
        "That's a known question, but nobody has written an answer yet; it's been noted for "
        "the writers."
    ),
    "unanswered_known_alternatives": " These answered questions are close:",
    "report_button": "Report a problem",
    "report_title": "Report a problem with this answer",
    "report_field": "What is wrong?",
    "report_hint": "e.g. outdated, wrong, a broken link, unclear",
    "report_thanks": "Thank you: the moderators have your report.",
    "report_gone": "That answer is no longer in the knowledge base, so it can't be reported.",
    "report_posted_title": "Problem reported: {question}",
    "report_posted_answer": "Answer",
    "report_posted_by": "Reported by",
    "report_posted_message": "Message",
    "report_posted_footer": "Report #{id} · /unanswered reports",
    "report_no_link": "(shown privately; no message to link)",
    "cmd_ask": "Ask Stampy a question",
    "cmd_tag_page": "A tag's page: its description and its questions",
    "cmd_tags": "Every tag, with how many questions it has",
    "cmd_help": "How to ask, stamp and browse, and what moderators can do",
    "opt_ask_question": "Your question (or pick one from the list)",
    "opt_tag_name": "The tag",
    # -- wiki work for moderators and writers -------------------------------------------
    "canon_title": ("Known questions nobody has answered{tag}, {first}-{last}, most asked first:"),
    "canon_tag": " tagged `{tag}`",
    "canon_row": "`{number}.` ({count}×) {text}",
    "canon_hint": "The buttons open a form to answer a question.",
    "canon_empty": "Every known question{tag} has an answer. 🎉",
    "canon_answer_button": "Answer {number}",
    "canon_form_title": "Answer a question",
    "canon_form_question": "The question (as stored; not changed here)",
    "report_queue_title": "Reports {first}-{last} of {total}:",
    "report_queue_row": "`#{id}` {question} · answer `{answer}` · by {who}: {text}",
    "report_queue_hint": (
        "Fix the answer with `/answer edit`, then mark the report resolved; or dismiss it."
    ),
    "report_queue_empty": "No reports to look at.",
    "promo_title": "Answers stamps propose as canonical {first}-{last} of {total}:",
    "promo_row": "`#{id}` {question} · answer `{answer}` · {stamps} ({share:.0%} of the stamps)",
    "promo_hint": (
        "“Make canonical” makes that answer canonical (a normal, versioned change); "
        "“Reject” leaves it as it is."
    ),
    "promo_empty": "No answers proposed by stamps.",
    "promo_button": "Make #{id} canonical",
    "promo_posted": (
        "Stamps propose answer `{answer}` of **{question}** as canonical: {stamps}, "
        "{share:.0%} of the question's reputation-weighted stamps. (`#{id}` in "
        "`/unanswered promotions`)"
    ),
    "settle_resolve": "Resolved #{id}",
    "settle_dismiss": "Dismiss #{id}",
    "settle_reject": "Reject #{id}",
    "settled_report": "Report #{id} is {status}.",
    "settled_promotion": (
        "Promotion #{id} is rejected: the answer stays as it is and is not proposed again."
    ),
    "cmd_related": "Related questions of a question",
    "cmd_related_add": "List another question as related to a question",
    "cmd_related_remove": "Stop listing a question as related",
    "cmd_unanswered_canonical": "Known questions nobody has answered, most asked first",
    "cmd_unanswered_reports": "Problems members reported with answers",
    "cmd_unanswered_promotions": "Answers that stamps propose as canonical",
    "opt_related_other": "The related question",
    "opt_canon_tag": "Only questions with this tag (optional)",
    # -- command and option descriptions -------------------------------------------------
    "cmd_answer": "Curate the knowledge base (moderators)",
    "cmd_alias": "Alternate phrasings of a question",
    "cmd_tag": "Tags of a question",
    "cmd_unanswered": (
        "Questions nobody has answered, reports, proposals (moderators and writers)"
    ),
    "cmd_stampy": "Run the bot (moderators)",
    "cmd_answer_add": "Add a question and its answer (opens a form)",
    "cmd_answer_edit": "Edit a question and one of its answers",
    "cmd_alias_add": "Add an alternate phrasing to a question",
    "cmd_alias_remove": "Remove an alternate phrasing from a question",
    "cmd_tag_add": "Add a tag to a question",
    "cmd_tag_remove": "Remove a tag from a question",
    "cmd_answer_canonical": "Mark an answer canonical (shown first) or not",
    "cmd_answer_remove": "Remove a question, or one of its answers",
    "cmd_answer_show": "Show everything stored about a question, ids too",
    "cmd_answer_history": "Who changed a question, what and when",
    "cmd_answer_revert": "Go back to an earlier version of a question",
    "cmd_unanswered_list": "Unanswered questions, the most asked first",
    "cmd_unanswered_proposals": "Alternate phrasings proposed by askers",
    "cmd_unanswered_answer": "Answer an unanswered question (opens a form)",
    "cmd_unanswered_merge": "Fold an unanswered question into an existing one",
    "cmd_unanswered_dismiss": "Dismiss an unanswered question",
    "cmd_unanswered_approve": "Approve a proposed alternate phrasing",
    "cmd_unanswered_reject": "Reject a proposed alternate phrasing",
    "cmd_stampy_reload": "Re-read the answers files without a restart",
    "opt_question": "The question",
    "opt_question_or_removed": "The question (or the id of a removed one)",
    "opt_answer_which": "Which answer (if it has several)",
    "opt_answer": "The answer",
    "opt_answer_only": "Only this answer (optional)",
    "opt_phrasing_new": "Another way to ask it",
    "opt_phrasing_old": "The phrasing to remove",
    "opt_tag_new": "Letters, digits and hyphens",
    "opt_tag_old": "The tag to remove",
    "opt_canonical": "Canonical or not",
    "opt_version": "The version to go back to (see /answer history; 0 is the shipped file)",
    "opt_item": "The unanswered question",
    "opt_merge_into": "The question it is another phrasing of",
    "opt_proposal": "The proposed phrasing",
}
