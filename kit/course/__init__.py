"""What only the course needs: notebook helpers, pictures, scenarios, doctor, broken patterns, exercises."""
