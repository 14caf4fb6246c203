from services.cli import main_for

main_for("files")
