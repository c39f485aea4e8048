"""The few fixed words of the digest, per language: a neutral module, read by the config
(to check a [words] table) and by render (to write them).

A word is a str.format pattern, or a table of patterns by CLDR plural category
("one", "few", "many", "other", ...) when it counts something: Babel says which
category a number falls in for the language, so "5 новых статей" and "2 новые
статьи" both come out right. Editors override any word with a [words] table in
the config (see docs/email.md).
"""

from __future__ import annotations

import string
from collections.abc import Mapping

Word = str | Mapping[str, str]

WORDS: dict[str, dict[str, Word]] = {
    "en": {
        "new_articles": "New articles",
        "min_read": "{n} min read",
        "more_in": "More in {category}",
        "by": "By {author}",
        "web_version": "Read this edition on the web",
        "unsubscribe": "Unsubscribe",
        "unsubscribe_note": "You receive this because {email} subscribed to {title}.",
        "unsubscribe_text": "To stop receiving this digest, unsubscribe: {url}",
        "manage": "Manage your subscription",
        "manage_text": "To choose sections or pause it, manage your subscription: {url}",
        "earlier_editions": "Earlier editions",
        "archive": "Archive",
        "subscribe_feed": "Follow by RSS",
        "articles": {"one": "{n} article", "other": "{n} articles"},
        "privacy": "Privacy",
        "terms": "Terms",
        "contact": "Contact",
        "edition_of": "Edition of {date}",
        "no_editions": "No editions yet.",
        "latest_edition": "Latest edition",
        "edition_count": {"one": "{n} new article", "other": "{n} new articles"},
        "web_version_short": "View in your browser",
        "subscribe_title": "Subscribe to {title}",
        "subscribe_intro": "The day's news from {title} in your inbox, once a day.",
        "subscribe_email": "Email address",
        "subscribe_name": "Name (optional)",
        "subscribe_categories": "Sections (none ticked: all of them)",
        "subscribe_button": "Subscribe",
        "subscribe_problem": (
            "This does not look like an email address we can write to. Please check"
            " it."),
        "check_inbox_title": "Check your inbox",
        "check_inbox_text": (
            "If the address can receive mail from {title}, a message is on its way "
            "to it. Follow the link in it to finish; nothing is sent until you do."),
        "confirm_title": "Confirm your subscription to {title}",
        "confirm_text": "Press the button to start receiving {title} at {email}.",
        "confirm_button": "Confirm my subscription",
        "confirmed_title": "You are subscribed",
        "confirmed_text": "{email} will receive {title}. You can unsubscribe from any issue.",
        "link_invalid_title": "This link is not valid",
        "link_invalid_text": (
            "It may have been cut short when it was copied. Subscribe again on the "
            "form to get a new one."),
        "link_expired_title": "This link has expired",
        "link_expired_text": (
            "Confirmation links are valid for {days} days. Subscribe again on the "
            "form to get a new one."),
        "confirm_mail_subject": "Confirm your subscription to {title}",
        "confirm_mail_text": (
            "Someone, probably you, asked to receive {title} at {email}. To "
            "confirm, open this link (valid for {days} days):"),
        "confirm_mail_ignore": "If it was not you, ignore this message: nothing will be sent.",
        "active_mail_subject": "You are already subscribed to {title}",
        "active_mail_text": (
            "Someone, probably you, asked to subscribe {email} to {title}, which "
            "already receives it. Nothing has changed."),
        "active_mail_leave": "To stop receiving it, unsubscribe: {url}",
        "active_mail_manage": "To choose sections or pause it, manage your subscription: {url}",
        "unsubscribe_confirm_title": "Unsubscribe from {title}?",
        "go_to": "Go to {title}",
        "not_listed_text": "This address is no longer on the list of {title}.",
        "unsubscribe_invalid_title": "This unsubscribe link is not valid",
        "unsubscribe_invalid_text": (
            "It may have been cut short when it was copied. Use the unsubscribe link in "
            "the latest email from {title}, or reply to that email and ask to be removed."),
        "manage_title": "Your subscription to {title}",
        "manage_intro": "{email} receives {title}. Choose what you get, or pause it for a while.",
        "manage_pause": (
            "Pause until (nothing is sent up to "
            "and including this day; empty: no pause)"),
        "manage_save": "Save",
        "manage_saved_title": "Your choice is saved",
        "manage_saved_text": "{email} will receive {title} with the sections chosen below.",
        "manage_paused_text": (
            "{email} will receive nothing from "
            "{title} up to and including {date}."),
        "manage_problem": "Choose a date from today on (YYYY-MM-DD) and sections from the list.",
        "manage_leave": "Or stop receiving {title} altogether:",
        "unsubscribed_title": "You are unsubscribed",
        "unsubscribed_text": "{email} will get no more emails from {title}.",
        "manage_invalid_text": (
            "It may have been cut short when it was copied. Use the link in the latest "
            "email from {title}."),
    },
    "az": {
        "new_articles": "Yeni məqalələr",
        "min_read": "{n} dəq oxuma",
        "more_in": "{category} bölməsində daha çox",
        "by": "Müəllif: {author}",
        "web_version": "Bu buraxılışı saytda oxuyun",
        "unsubscribe": "Abunəlikdən çıxın",
        "unsubscribe_note": "Bu məktubu {email} ünvanı {title} bülleteninə abunə olduğu "
                            "üçün alırsınız.",
        "unsubscribe_text": "Abunəlikdən çıxmaq üçün: {url}",
        "manage": "Abunəliyinizi idarə edin",
        "manage_text": "Bölmələri seçmək və ya fasilə vermək üçün: {url}",
        "earlier_editions": "Əvvəlki buraxılışlar",
        "archive": "Arxiv",
        "subscribe_feed": "RSS ilə izləyin",
        "articles": "{n} məqalə",
        "privacy": "Məxfilik",
        "terms": "Şərtlər",
        "contact": "Əlaqə",
        "edition_of": "{date} buraxılışı",
        "no_editions": "Hələ buraxılış yoxdur.",
        "latest_edition": "Son buraxılış",
        "edition_count": {"one": "{n} yeni məqalə", "other": "{n} yeni məqalə"},
        "web_version_short": "Brauzerdə baxın",
        "subscribe_title": "{title} abunəliyi",
        "subscribe_intro": "{title} xəbərləri gündə bir dəfə poçt qutunuzda.",
        "subscribe_email": "E-poçt ünvanı",
        "subscribe_name": "Ad (istəyə görə)",
        "subscribe_categories": "Bölmələr (heç biri seçilməsə: hamısı)",
        "subscribe_button": "Abunə ol",
        "subscribe_problem": (
            "Bu, yaza biləcəyimiz e-poçt ünvanına oxşamır. Zəhmət olmasa yoxlayın."),
        "check_inbox_title": "Poçt qutunuzu yoxlayın",
        "check_inbox_text": (
            "Ünvan {title} məktublarını qəbul edə bilirsə, ona məktub göndərildi. "
            "Abunəliyi tamamlamaq üçün içindəki keçidə keçin; o vaxta qədər heç nə "
            "göndərilməyəcək."),
        "confirm_title": "{title} abunəliyini təsdiqləyin",
        "confirm_text": "{email} ünvanına {title} almağa başlamaq üçün düyməni basın.",
        "confirm_button": "Abunəliyi təsdiqlə",
        "confirmed_title": "Abunə oldunuz",
        "confirmed_text": (
            "{email} ünvanı {title} alacaq. İstənilən buraxılışdan abunəlikdən çıxa"
            " bilərsiniz."),
        "link_invalid_title": "Bu keçid etibarlı deyil",
        "link_invalid_text": (
            "Kopyalanarkən kəsilmiş ola bilər. Yeni keçid üçün formada yenidən "
            "abunə olun."),
        "link_expired_title": "Bu keçidin vaxtı keçib",
        "link_expired_text": (
            "Təsdiq keçidləri {days} gün etibarlıdır. Yeni keçid üçün formada "
            "yenidən abunə olun."),
        "confirm_mail_subject": "{title} abunəliyini təsdiqləyin",
        "confirm_mail_text": (
            "Kimsə, yəqin ki, siz, {email} ünvanına {title} göndərilməsini istədi. "
            "Təsdiqləmək üçün bu keçidi açın ({days} gün etibarlıdır):"),
        "confirm_mail_ignore": (
            "Bu siz deyildinizsə, bu məktubu nəzərə almayın: heç nə "
            "göndərilməyəcək."),
        "active_mail_subject": "Siz artıq {title} abunəçisisiniz",
        "active_mail_text": (
            "Kimsə, yəqin ki, siz, {email} ünvanını {title} abunəsinə yazmaq "
            "istədi; bu ünvan onu artıq alır. Heç nə dəyişmədi."),
        "active_mail_leave": "Almağı dayandırmaq üçün abunəlikdən çıxın: {url}",
        "active_mail_manage": "Bölmələri seçmək və ya fasilə vermək üçün: {url}",
        "unsubscribe_confirm_title": "{title} abunəliyindən çıxılsın?",
        "go_to": "{title} saytına keçin",
        "not_listed_text": "Bu ünvan artıq {title} siyahısında deyil.",
        "unsubscribe_invalid_title": "Bu abunəlikdən çıxma keçidi etibarlı deyil",
        "unsubscribe_invalid_text": (
            "Kopyalanarkən kəsilmiş ola bilər. {title} bülletenindən gələn son məktubdakı "
            "keçiddən istifadə edin və ya həmin məktuba cavab yazıb silinməyinizi istəyin."),
        "manage_title": "{title} abunəliyiniz",
        "manage_intro": (
            "{email} ünvanı {title} alır. Nə almaq istədiyinizi "
            "seçin və ya bir müddət fasilə verin."),
        "manage_pause": (
            "Bu günə qədər fasilə (bu gün "
            "daxil heç nə göndərilmir; boş: fasilə yoxdur)"),
        "manage_save": "Yadda saxla",
        "manage_saved_title": "Seçiminiz yadda saxlanıldı",
        "manage_saved_text": (
            "{email} ünvanı {title} bülletenini "
            "aşağıda seçilmiş bölmələrlə alacaq."),
        "manage_paused_text": (
            "{email} ünvanı {date} daxil olmaqla "
            "{title} bülletenindən heç nə almayacaq."),
        "manage_problem": "Bu gündən sonrakı tarixi (YYYY-MM-DD) və siyahıdan bölmələri seçin.",
        "manage_leave": "Və ya {title} almağı tamamilə dayandırın:",
        "unsubscribed_title": "Abunəlikdən çıxdınız",
        "unsubscribed_text": "{email} ünvanına {title} məktubları daha göndərilməyəcək.",
        "manage_invalid_text": (
            "Kopyalanarkən kəsilmiş ola bilər. {title} bülletenindən gələn son məktubdakı "
            "keçiddən istifadə edin."),
    },
    "ru": {
        "new_articles": "Новые статьи",
        "min_read": "{n} мин чтения",
        "more_in": "Ещё в рубрике «{category}»",
        "by": "Автор: {author}",
        "web_version": "Читать этот выпуск на сайте",
        "unsubscribe": "Отписаться",
        "unsubscribe_note": "Вы получили это письмо, потому что адрес {email} подписан на "
                            "«{title}».",
        "unsubscribe_text": "Чтобы отписаться от рассылки: {url}",
        "manage": "Управление подпиской",
        "manage_text": "Чтобы выбрать разделы или приостановить рассылку: {url}",
        "earlier_editions": "Предыдущие выпуски",
        "archive": "Архив",
        "subscribe_feed": "Подписаться через RSS",
        "articles": {"one": "{n} статья", "few": "{n} статьи", "many": "{n} статей",
                     "other": "{n} статьи"},
        "privacy": "Конфиденциальность",
        "terms": "Условия",
        "contact": "Контакты",
        "edition_of": "Выпуск от {date}",
        "no_editions": "Выпусков пока нет.",
        "latest_edition": "Последний выпуск",
        "edition_count": {"one": "{n} новая статья", "few": "{n} новые статьи",
                          "many": "{n} новых статей", "other": "{n} новой статьи"},
        "web_version_short": "Открыть в браузере",
        "subscribe_title": "Подписка на {title}",
        "subscribe_intro": "Новости {title} в вашей почте раз в день.",
        "subscribe_email": "Адрес электронной почты",
        "subscribe_name": "Имя (необязательно)",
        "subscribe_categories": "Разделы (если ничего не отмечено — все)",
        "subscribe_button": "Подписаться",
        "subscribe_problem": (
            "Похоже, это не адрес электронной почты, на который можно написать. "
            "Проверьте его."),
        "check_inbox_title": "Проверьте почту",
        "check_inbox_text": (
            "Если этот адрес может получать письма {title}, мы отправили на него "
            "письмо. Перейдите по ссылке в нём, чтобы завершить подписку; до тех "
            "пор ничего не будет отправлено."),
        "confirm_title": "Подтвердите подписку на {title}",
        "confirm_text": "Нажмите кнопку, чтобы получать {title} на {email}.",
        "confirm_button": "Подтвердить подписку",
        "confirmed_title": "Вы подписаны",
        "confirmed_text": "{email} будет получать {title}. Отписаться можно из любого выпуска.",
        "link_invalid_title": "Эта ссылка недействительна",
        "link_invalid_text": (
            "Возможно, она обрезалась при копировании. Подпишитесь снова через "
            "форму, чтобы получить новую."),
        "link_expired_title": "Срок действия ссылки истёк",
        "link_expired_text": (
            "Ссылки для подтверждения действуют {days} дн. Подпишитесь снова через "
            "форму, чтобы получить новую."),
        "confirm_mail_subject": "Подтвердите подписку на {title}",
        "confirm_mail_text": (
            "Кто-то, вероятно вы, попросил присылать {title} на {email}. Чтобы "
            "подтвердить, откройте ссылку (действует {days} дн.):"),
        "confirm_mail_ignore": (
            "Если это были не вы, просто проигнорируйте это письмо: ничего "
            "отправлено не будет."),
        "active_mail_subject": "Вы уже подписаны на {title}",
        "active_mail_text": (
            "Кто-то, вероятно вы, попросил подписать {email} на {title}, но этот "
            "адрес уже получает рассылку. Ничего не изменилось."),
        "active_mail_leave": "Чтобы больше не получать рассылку, отпишитесь: {url}",
        "active_mail_manage": "Чтобы выбрать разделы или приостановить рассылку: {url}",
        "unsubscribe_confirm_title": "Отписаться от {title}?",
        "go_to": "Перейти на {title}",
        "not_listed_text": "Этого адреса больше нет в списке {title}.",
        "unsubscribe_invalid_title": "Эта ссылка для отписки недействительна",
        "unsubscribe_invalid_text": (
            "Возможно, она обрезалась при копировании. Воспользуйтесь ссылкой для отписки "
            "из последнего письма {title} или ответьте на него с просьбой удалить адрес."),
        "manage_title": "Ваша подписка на {title}",
        "manage_intro": (
            "{email} получает {title}. Выберите, "
            "что получать, или приостановите рассылку."),
        "manage_pause": "Приостановить до (включительно ничего не отправляется; пусто: без паузы)",
        "manage_save": "Сохранить",
        "manage_saved_title": "Ваш выбор сохранён",
        "manage_saved_text": "{email} будет получать {title} с выбранными ниже разделами.",
        "manage_paused_text": "{email} не будет получать {title} до {date} включительно.",
        "manage_problem": "Выберите дату не раньше сегодняшней (ГГГГ-ММ-ДД) и разделы из списка.",
        "manage_leave": "Или совсем отказаться от {title}:",
        "unsubscribed_title": "Вы отписались",
        "unsubscribed_text": "{email} больше не будет получать письма {title}.",
        "manage_invalid_text": (
            "Возможно, она обрезалась при копировании. Воспользуйтесь ссылкой из "
            "последнего письма {title}."),
    },
}


def fields(pattern: str) -> set[str]:
    """The {names} a pattern uses."""
    return {name for _, name, _, _ in string.Formatter().parse(pattern) if name}


def word_fields(word: Word) -> set[str]:
    patterns = [word] if isinstance(word, str) else list(word.values())
    return set().union(*(fields(p) for p in patterns))
