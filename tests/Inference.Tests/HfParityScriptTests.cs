namespace PaliGemma2.DocPipeline.Inference.Tests;

/// <summary>
/// tools/hf_parity.py needs transformers (the GPU machine); here only its numpy helpers run: left padding and
/// positions as the engine builds them, the logits/ids comparisons and the tie rule. Not a parity result.
/// </summary>
public sealed class HfParityScriptTests
{
    [Fact]
    public void Parity_script_helpers_pass_their_selftest()
    {
        var output = TestEnvironment.RunProcess(TestEnvironment.Python, [Path.Combine(TestEnvironment.RepoRoot, "tools", "hf_parity.py"), "--selftest"]);
        Assert.Contains("selftest: batch building and comparison helpers OK", output, StringComparison.Ordinal);
    }
}
