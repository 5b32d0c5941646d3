package org.evidenceportal.esnode;

import org.junit.Test;
import org.junit.runner.RunWith;

import com.carrotsearch.randomizedtesting.RandomizedRunner;
import com.carrotsearch.randomizedtesting.annotations.ThreadLeakScope;
import com.carrotsearch.randomizedtesting.annotations.Timeout;
import com.carrotsearch.randomizedtesting.annotations.TimeoutSuite;

/**
 * The node runs inside a randomized-testing context: with the test framework on the classpath,
 * Elasticsearch's Randomness asks RandomizedContext (per thread group) for its random source, so
 * the node and every thread it starts must live under RandomizedRunner. The single "test" starts
 * the node and blocks until the JVM is asked to stop.
 */
@RunWith(RandomizedRunner.class)
@ThreadLeakScope(ThreadLeakScope.Scope.NONE)
@TimeoutSuite(millis = Integer.MAX_VALUE)
public class NodeSuite {

    @Test
    @Timeout(millis = Integer.MAX_VALUE)
    public void runNode() throws Exception {
        EsNode.runNode();
    }
}
