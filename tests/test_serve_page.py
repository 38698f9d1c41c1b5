"""Chapter 7's chat page in headless Chromium (Debian's chromium + chromium-driver, through selenium), against the
live tiny server: type a message, watch the reply stream in, keep a screenshot for the docs check."""
import os, shutil, time
from pathlib import Path
import pytest
pytest.importorskip('llama_cpp.server.app')
from serve_helpers import tiny_clone, live_server

ROOT = Path(__file__).resolve().parents[1]
SHOT = ROOT/'_docs_check'/'07_serve_chat.png'

def _driver():
    exe, drv = shutil.which('chromium') or shutil.which('chromium-browser'), shutil.which('chromedriver')
    try: import selenium  # noqa: F401
    except ImportError: exe = None
    if not (exe and drv):
        if os.environ.get('CI'): pytest.fail('CI must have chromium, chromium-driver and selenium (.ci/run installs them)')
        pytest.skip('needs Debian\'s chromium and chromium-driver, and selenium')
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    o = webdriver.ChromeOptions(); o.binary_location = exe
    for a in ('--headless=new', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--window-size=900,700',
              '--no-first-run', '--disable-background-networking'): o.add_argument(a)
    d = webdriver.Chrome(service=Service(drv), options=o); d.set_page_load_timeout(30)
    return d

@pytest.fixture(scope='module')
def url(tmp_path_factory):
    with live_server(tiny_clone(tmp_path_factory.mktemp('page'))) as u: yield u

def test_chat_page_streams_a_reply(url):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait
    d = _driver()
    try:
        d.get(url + '/')
        assert 'imitating its owner' in d.find_element(By.ID, 'disclosure').text
        # record every text the reply bubble shows, to see it grow piece by piece
        d.execute_script("""window.seen = []; new MutationObserver(() => { const b = document.querySelector('.clone');
            if (b) window.seen.push(b.textContent); }).observe(document.getElementById('log'), {subtree: true, childList: true, characterData: true});""")
        d.find_element(By.ID, 'text').send_keys('привет! как дела?')
        d.find_element(By.ID, 'send').click()
        WebDriverWait(d, 60).until(lambda d: d.find_element(By.CSS_SELECTOR, '.clone').get_attribute('data-state') == 'done')
        reply = d.find_element(By.CSS_SELECTOR, '.clone').text
        seen = [s for s in d.execute_script('return window.seen') if s not in ('…', '')]
        assert reply.strip() and not reply.startswith(('The server', 'This server')), reply
        assert len(set(seen)) > 2 and seen[-1] == reply, seen          # streamed: several growing texts, ending on the reply
        assert d.find_element(By.CSS_SELECTOR, '.you').text == 'привет! как дела?'
        SHOT.parent.mkdir(exist_ok=True); d.save_screenshot(str(SHOT))
        assert SHOT.stat().st_size > 10_000
    finally: d.quit()
