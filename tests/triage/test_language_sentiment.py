"""Language of short support messages in the configured languages, and VADER's sentiment."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from helpline.router import language, sentiment
from helpline.store import config
from helpline.store.config import ConfigError

LANGS = ("en", "de", "fr", "es", "it", "nl", "pt")

# Short messages as customers write them: 3 to 8 words, no greeting to help.
SHORT = {
    "en": [
        "My order has not arrived yet",
        "I cannot log in to my account",
        "Where is my refund?",
        "The app keeps crashing",
        "Please cancel my subscription",
        "Still waiting for an answer",
        "Wrong item delivered",
        "The invoice is wrong",
        "I was charged twice",
        "Package damaged on arrival",
    ],
    "de": [
        "Meine Bestellung ist noch nicht da",
        "Ich kann mich nicht anmelden",
        "Wo bleibt meine Rückerstattung?",
        "Die App stürzt ständig ab",
        "Bitte kündigen Sie mein Abo",
        "Ich warte immer noch auf Antwort",
        "Falscher Artikel geliefert",
        "Die Rechnung ist falsch",
        "Mir wurde doppelt abgebucht",
        "Paket beschädigt angekommen",
    ],
    "fr": [
        "Ma commande n'est pas encore arrivée",
        "Je ne peux pas me connecter",
        "Où est mon remboursement ?",
        "L'application plante tout le temps",
        "Merci d'annuler mon abonnement",
        "J'attends toujours une réponse",
        "Mauvais article livré",
        "La facture est fausse",
        "J'ai été débité deux fois",
        "Colis abîmé à la livraison",
    ],
    "es": [
        "Mi pedido todavía no ha llegado",
        "No puedo iniciar sesión",
        "¿Dónde está mi reembolso?",
        "La aplicación se cierra sola",
        "Por favor cancelen mi suscripción",
        "Sigo esperando una respuesta",
        "Me enviaron el artículo equivocado",
        "La factura está mal",
        "Me cobraron dos veces",
        "El paquete llegó dañado",
    ],
    "it": [
        "Il mio ordine non è ancora arrivato",
        "Non riesco ad accedere",
        "Dov'è il mio rimborso?",
        "L'app si blocca sempre",
        "Per favore annullate il mio abbonamento",
        "Sto ancora aspettando una risposta",
        "Articolo sbagliato consegnato",
        "La fattura è sbagliata",
        "Mi avete addebitato due volte",
        "Pacco arrivato danneggiato",
    ],
    "nl": [
        "Mijn bestelling is nog niet aangekomen",
        "Ik kan niet inloggen",
        "Waar blijft mijn terugbetaling?",
        "Zeg alstublieft mijn abonnement op",
        "Ik wacht nog steeds op antwoord",
        "Verkeerd artikel geleverd",
        "De factuur klopt niet",
        "Ik ben twee keer afgeschreven",
        "Kunt u mij terugbellen?",
        "Pakket beschadigd aangekomen",
    ],
    "pt": [
        "Minha encomenda ainda não chegou",
        "Não consigo entrar na minha conta",
        "Onde está o meu reembolso?",
        "O aplicativo fecha sozinho",
        "Por favor cancelem a minha assinatura",
        "Ainda estou à espera de resposta",
        "Recebi o produto errado",
        "A fatura está errada",
        "Fui cobrado duas vezes",
        "Pacote chegou danificado",
    ],
}


def test_short_messages_in_seven_languages():
    wrong = [
        (code, text, language.detect("", text, LANGS).code)
        for code, texts in SHORT.items()
        for text in texts
        if language.detect("", text, LANGS).code != code
    ]
    assert len(wrong) <= 2, wrong  # 70 messages; low-accuracy mode is right on at least 68


@pytest.mark.parametrize("text", ["ok", "12345", "HL-2026-000012", "Danke!", "Thanks", ":-)"])
def test_too_little_to_go_by_is_undetermined_not_a_guess(text):
    guess = language.detect("", text, LANGS)
    assert guess.code == "" and (guess.reason.startswith("undetermined") or guess.reason == "no letters to go by")


def test_a_short_text_borrows_its_subject():
    assert language.sample("Bestellung nicht angekommen", "Danke!") == "Bestellung nicht angekommen\nDanke!"
    assert language.detect("Meine Bestellung ist nicht angekommen", "Danke!", LANGS).code == "de"
    long_text = "My order has not arrived and the tracking page shows nothing."
    assert language.sample("Bestellung", long_text) == long_text


def test_only_configured_languages_are_chosen():
    assert language.detect("", "Il mio ordine non è ancora arrivato", ("en", "de")).code in ("", "en", "de")
    assert language.detect("", "Il mio ordine non è ancora arrivato", ("en", "it")).code == "it"


def test_high_accuracy_mode_is_there_for_machines_with_the_memory():
    assert language.detect("", "Bedankt, het werkt weer!", ("nl", "de"), accuracy="high").code == "nl"


def test_bad_language_settings_are_named():
    with pytest.raises(ConfigError, match="'xx' is not an ISO 639-1 code"):
        language.detector(("en", "xx"))
    with pytest.raises(ConfigError, match="at least two languages"):
        language.detector(("en",))
    with pytest.raises(ConfigError, match="HELPLINE_LANGUAGE_ACCURACY"):
        config.load({"HELPLINE_LANGUAGE_ACCURACY": "medium"})
    assert config.load({"HELPLINE_LANGUAGES": "en, fr"}).languages == ("en", "fr")


def test_sentiment_scores():
    happy = sentiment.score("Thanks, that fixed it! Great support.", "en")
    angry = sentiment.score("This is unacceptable. Terrible service, I am furious!!!", "en")
    plain = sentiment.score("Where is my parcel? It was sent on Monday.", "en")
    assert happy.compound > 0.5 and angry.compound < -0.5 and plain.compound == 0.0
    assert angry.negative > angry.positive and happy.as_event()["compound"] == happy.compound
    assert sentiment.score("ok thanks", "").compound > 0  # undetermined language: scored
    assert sentiment.score("Das ist eine Katastrophe, furchtbar!", "de").compound < -0.5  # textblob-de's lexicon
    assert sentiment.score("Je suis très déçu, c'est horrible !", "fr").compound < -0.5  # textblob-fr's lexicon
    assert sentiment.score("Ich bin nicht zufrieden.", "de").compound < 0  # negation flips
    assert sentiment.score("Esto es terrible", "es").compound < -0.3  # Helpline's Spanish lexicon
    assert sentiment.score("No estoy contento", "es").compound < 0  # negation flips
    assert (
        sentiment.score("Estoy muy decepcionada", "es").compound < sentiment.score("Estoy decepcionada", "es").compound
    )
    assert sentiment.score("¡Qué servicio tan bueno, GRACIAS!", "es").compound > 0.5  # accents and case ignored
    assert sentiment.score("Esto es terrible", "it") is None  # a language without a lexicon: not read as English
    assert sentiment.score("   ", "en") is None


@pytest.mark.parametrize(
    "before, now, dropped",
    [
        (0.4, -0.6, True),
        (0.0, -0.5, True),
        (-0.04, -0.9, True),
        (-0.3, -0.9, False),  # already unhappy: no turn
        (0.5, -0.49, False),
        (None, -0.9, False),
        (0.5, None, False),
    ],
)
def test_what_counts_as_a_sharp_negative_turn(before, now, dropped):
    assert sentiment.dropped(before, now, -0.5) is dropped


LABELLED = Path(__file__).resolve().parent / "data" / "sentiment_labelled.csv"


@pytest.mark.parametrize("lang", ["en", "de", "fr", "es"])
def test_sentiment_accuracy_on_a_labelled_set(lang):
    """negative / neutral / positive (VADER's +-0.05 band) on 12 messages per language written for these tests
    (the file's source column); measured 11 of 12 in en/de/fr. The Spanish lexicon (router/models/
    es-sentiment.csv) was written before its 12 messages but by the same session, so its 12 of 12 flatters it."""
    with open(LABELLED, newline="", encoding="utf-8") as fh:
        rows = [r for r in csv.DictReader(fh) if r["language"] == lang]
    assert len(rows) == 12 and {r["label"] for r in rows} == {"neg", "neu", "pos"}
    right = 0
    for r in rows:
        c = sentiment.score(r["text"], lang).compound
        right += ("neg" if c <= -0.05 else "pos" if c >= 0.05 else "neu") == r["label"]
    assert right / len(rows) >= 0.83
